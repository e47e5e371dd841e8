#!/usr/bin/python3
"""The peer of bench/loader: the seed's torchvision input pipeline (ImageFolder, [Resize,] ToTensor,
Normalize, DataLoader with N workers) over a folder, timed for whole epochs. Prints one line:
`images_per_second <value>`."""
import argparse
import time

import torch
import torchvision
from torchvision import transforms


def main():
    p = argparse.ArgumentParser()
    p.add_argument("folder")
    p.add_argument("--size", type=int, default=200)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--epochs", type=int, default=1)
    a = p.parse_args()
    torch.set_num_threads(1)
    steps = [transforms.Resize((a.size, a.size))] if a.size != 200 else []
    steps += [transforms.ToTensor(), transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])]
    data = torchvision.datasets.ImageFolder(a.folder, transform=transforms.Compose(steps))
    loader = torch.utils.data.DataLoader(data, batch_size=a.batch, shuffle=True, num_workers=a.workers,
                                         drop_last=True, persistent_workers=a.workers > 0)
    images = 0
    for batch, _ in loader:  # warm-up epoch: starts the workers, fills the page cache
        pass
    start = time.perf_counter()
    for _ in range(a.epochs):
        for batch, _ in loader:
            images += batch.shape[0]
    print(f"images_per_second {images / (time.perf_counter() - start):.3f}")


if __name__ == "__main__":
    main()
