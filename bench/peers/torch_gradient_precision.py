#!/usr/bin/env python3
"""How far torch's own CUDA gradients (fp32 with TF32 off, and bf16 autocast) are from float64 CPU ones
for resnet18 with training-mode batch norm, on bf16-rounded weights and inputs: the yardstick for the
tolerances of tests/models/test_resnet_cuda.cpp. Needs a GPU and torch with CUDA. Prints, per
configuration and precision, the worst and median cosine similarity and the worst relative error over
the parameter gradients. Results of 2026-11-22 on an H100: bench/results/2026-11-22-nvidia-h100-80gb-hbm3.md.
Usage: python3 bench/peers/torch_gradient_precision.py"""
import torch
import torchvision

torch.backends.cudnn.allow_tf32 = False
torch.backends.cuda.matmul.allow_tf32 = False


def resnet18(stem, state=None):
    net = torchvision.models.resnet18(num_classes=29)
    if stem == "small":
        net.conv1 = torch.nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        net.maxpool = torch.nn.Identity()
    if state is not None:
        net.load_state_dict(state)
    return net


def run(batch, size, stem, seed=0):
    torch.manual_seed(seed)
    base = resnet18(stem)
    with torch.no_grad():
        for p in base.parameters():
            p.copy_(p.to(torch.bfloat16).float())
    state = base.state_dict()
    x = torch.randn(batch, 3, size, size).to(torch.bfloat16).float()
    y = torch.randint(0, 29, (batch,))
    grads = {}
    for mode in ["f64", "fp32", "bf16"]:
        device = "cpu" if mode == "f64" else "cuda"
        dtype = torch.float64 if mode == "f64" else torch.float32
        net = resnet18(stem, state).to(device).to(dtype).to(memory_format=torch.channels_last)
        inputs = x.to(device).to(dtype).contiguous(memory_format=torch.channels_last)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=(mode == "bf16")):
            out = net(inputs)
        torch.nn.functional.cross_entropy(out.to(dtype), y.to(device), label_smoothing=0.1).backward()
        grads[mode] = {n: p.grad.double().cpu() for n, p in net.named_parameters()}
    ref = grads["f64"]
    for mode in ["fp32", "bf16"]:
        cos = {n: torch.nn.functional.cosine_similarity(grads[mode][n].flatten(), ref[n].flatten(), dim=0).item()
               for n in ref}
        rel = {n: ((grads[mode][n] - ref[n]).norm() / ref[n].norm()).item() for n in ref}
        worst_cos, worst_rel = min(cos, key=cos.get), max(rel, key=rel.get)
        print(f"torch {stem} batch {batch} size {size} {mode}: min cosine {cos[worst_cos]:.4f} ({worst_cos}), "
              f"median {sorted(cos.values())[len(cos) // 2]:.4f}; max rel {rel[worst_rel]:.3g} ({worst_rel})",
              flush=True)


if __name__ == "__main__":
    for b, s, stem in [(8, 64, "imagenet"), (8, 64, "small"), (16, 96, "imagenet"), (16, 96, "small"),
                       (32, 128, "imagenet")]:
        run(b, s, stem)
