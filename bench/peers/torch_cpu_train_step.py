#!/usr/bin/python3
"""The peer of bench/cpu_train_step: one torchvision ResNet training step on the CPU, timed the same way
(same architecture, classes, image size, batch, optimizer and thread count). Uses Debian's python3-torch.
Prints one line: `images_per_second <value>`."""
import argparse
import time

import torch
import torch.nn as nn
import torchvision


def resnet(arch, stem, classes):
    """torchvision's ResNet; the `small` stem is aslnet's (a 3x3/1 first convolution, no max pooling)."""
    model = getattr(torchvision.models, arch)(num_classes=classes)
    if stem == "small":
        model.conv1 = nn.Conv2d(3, model.conv1.out_channels, 3, 1, 1, bias=False)
        model.maxpool = nn.Identity()
    return model


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--arch", default="resnet18")
    p.add_argument("--stem", default="imagenet", choices=["imagenet", "small"])
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--classes", type=int, default=29)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = resnet(a.arch, a.stem, a.classes)
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    loss_fn = nn.CrossEntropyLoss()
    x = torch.randn(a.batch, 3, a.size, a.size)
    y = torch.randint(0, a.classes, (a.batch,))

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()

    for _ in range(a.warmup):
        step()
    start = time.perf_counter()
    for _ in range(a.steps):
        step()
    seconds = time.perf_counter() - start
    print(f"images_per_second {a.batch * a.steps / seconds:.3f}")


if __name__ == "__main__":
    main()
