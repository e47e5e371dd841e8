#!/usr/bin/env python3
"""The peer of bench/gpu_train_step: one torchvision ResNet training step on CUDA device 0, timed the same
way (same architecture, classes, image size, batch and optimizer: SGD, momentum 0.9, weight decay 5e-4).
Set up as a PyTorch user would for speed: channels_last, cudnn.benchmark, torch.autocast to bf16 for
--precision bf16; for fp32, TF32 tensor cores on or off as --tf32 says. Eager mode (no torch.compile,
no CUDA graph). Prints one line: `images_per_second <value>` (and notes on other lines)."""
import argparse
import time
import warnings

import torch
import torch.nn as nn
import torchvision


def set_tf32(enabled):
    # The long-standing flags: torch 2.9+ also has per-backend `fp32_precision` settings, maps these flags
    # onto them, and warns; mixing both APIs in one process is an error, so only these are used.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.backends.cuda.matmul.allow_tf32 = enabled
        torch.backends.cudnn.allow_tf32 = enabled


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--arch", default="resnet50")
    p.add_argument("--stem", default="imagenet", choices=["imagenet", "small"])
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--classes", type=int, default=29)
    p.add_argument("--precision", default="bf16", choices=["fp32", "bf16"])
    p.add_argument("--tf32", action="store_true")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=5)
    a = p.parse_args()

    if not torch.cuda.is_available():
        raise SystemExit("torch sees no CUDA device")
    dev = torch.device("cuda", 0)
    torch.backends.cudnn.benchmark = True
    set_tf32(a.tf32)
    torch.manual_seed(0)
    model = getattr(torchvision.models, a.arch)(num_classes=a.classes)
    if a.stem == "small":
        model.conv1 = nn.Conv2d(3, model.conv1.out_channels, 3, 1, 1, bias=False)
        model.maxpool = nn.Identity()
    model = model.to(dev, memory_format=torch.channels_last).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    loss_fn = nn.CrossEntropyLoss()
    x = torch.randn(a.batch, 3, a.size, a.size, device=dev).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, a.classes, (a.batch,), device=dev)
    bf16 = a.precision == "bf16"

    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=bf16):
            loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss

    for _ in range(a.warmup):
        loss = step()
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(a.steps):
        loss = step()
    torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    print(f"torch       {torch.__version__}, torchvision {torchvision.__version__}, cuDNN "
          f"{torch.backends.cudnn.version()}, TF32 {'on' if a.tf32 else 'off'}, loss {loss.item():.3f}, peak memory "
          f"{torch.cuda.max_memory_allocated() / 2**30:.1f} GiB", flush=True)
    print(f"images_per_second {a.batch * a.steps / seconds:.3f}", flush=True)


if __name__ == "__main__":
    main()
