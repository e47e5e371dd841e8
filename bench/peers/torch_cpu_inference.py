#!/usr/bin/python3
"""The peer of bench/cpu_inference: a torchvision ResNet's forward pass in evaluation mode on the CPU
(torch.inference_mode), timed call by call the same way (same architecture, classes, image size, batch
and thread count). Uses Debian's python3-torch. Prints one line: `median_ms <value>`."""
import argparse
import statistics
import time

import torch

from torch_cpu_train_step import resnet  # this folder is on the path: the script's own


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--arch", default="resnet18")
    p.add_argument("--stem", default="imagenet", choices=["imagenet", "small"])
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--classes", type=int, default=29)
    p.add_argument("--iters", type=int, default=200)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = resnet(a.arch, a.stem, a.classes)
    model.eval()
    x = torch.randn(a.batch, 3, a.size, a.size)
    times = []
    with torch.inference_mode():
        for i in range(a.warmup + a.iters):
            start = time.perf_counter()
            model(x)
            if i >= a.warmup:
                times.append(time.perf_counter() - start)
    print(f"median_ms {1000 * statistics.median(times):.4f}")


if __name__ == "__main__":
    main()
