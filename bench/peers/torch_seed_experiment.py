#!/usr/bin/env python3
"""The peer of `aslnet bench train`: the seed project's experiment as a PyTorch user writes it. A
torchvision ResNet from a random initialisation (no pretrained weights), an ImageFolder over the class
folders, no augmentation, ImageNet normalisation, a random validation split, Adam (AdamW with
--weight-decay),
nn.DataParallel over the first --gpus GPUs, a global batch split over them. Times the whole run and
each epoch, and writes one JSON object to --json: total_seconds, epoch_seconds (mean over the epochs
after the first, which warms up), images_per_second, val_accuracy.

Training and validation images go through the same transform, the one aslnet uses for both without
augmentation: resize the shorter side to size / 0.875, centre crop. (This script once trained on a
plain Resize to the size and validated on the crop: its network then saw hands 14% larger at
validation than in training, and reached 48% where aslnet reached 86%, on the CPU and on an H100.)

The validation images are drawn with torch's generator, so they are not the same images as aslnet's
split (same fraction, same protocol); both train every layer from scratch."""
import argparse
import contextlib
import json
import time

import torch
import torch.nn as nn
import torchvision
from torchvision import transforms


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True)
    p.add_argument("--gpus", type=int, default=1)
    p.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    p.add_argument("--arch", default="resnet50")
    p.add_argument("--image-size", type=int, default=64)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--val-fraction", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    p.add_argument("--threads", type=int, default=4, help="DataLoader workers")
    p.add_argument("--json", required=True)
    a = p.parse_args()
    start = time.perf_counter()
    torch.manual_seed(a.seed)

    mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
    tf = transforms.Compose([transforms.Resize(round(a.image_size / 0.875)), transforms.CenterCrop(a.image_size),
                             transforms.ToTensor(), transforms.Normalize(mean, std)])
    train_all = torchvision.datasets.ImageFolder(a.data, transform=tf)
    order = torch.randperm(len(train_all), generator=torch.Generator().manual_seed(a.seed)).tolist()
    n_val = int(len(order) * a.val_fraction)
    train_set = torch.utils.data.Subset(train_all, order[n_val:])
    val_set = torch.utils.data.Subset(train_all, order[:n_val])
    workers = max(1, a.threads - 1)
    train_loader = torch.utils.data.DataLoader(train_set, batch_size=a.batch, shuffle=True, drop_last=True,
                                               num_workers=workers, pin_memory=a.device == "cuda",
                                               persistent_workers=True)
    val_loader = torch.utils.data.DataLoader(val_set, batch_size=a.batch, num_workers=workers,
                                             pin_memory=a.device == "cuda")

    device = torch.device("cuda:0" if a.device == "cuda" else "cpu")
    if a.device == "cpu":
        torch.set_num_threads(a.threads)
    model = getattr(torchvision.models, a.arch)(num_classes=len(train_all.classes)).to(device)
    if a.device == "cuda":
        torch.backends.cudnn.benchmark = True
        model = model.to(memory_format=torch.channels_last)
        if a.gpus > 1:
            model = nn.DataParallel(model, device_ids=list(range(a.gpus)))
    optimizer = (torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=a.weight_decay) if a.weight_decay > 0
                 else torch.optim.Adam(model.parameters(), lr=a.lr))
    loss_fn = nn.CrossEntropyLoss()

    def mixed():  # made per use: a CPU-only torch refuses even a disabled CUDA autocast
        return (torch.autocast(device_type="cuda", dtype=torch.bfloat16) if a.precision == "bf16"
                else contextlib.nullcontext())

    epoch_times, accuracy = [], 0.0
    for _ in range(a.epochs):
        t0 = time.perf_counter()
        model.train()
        for images, labels in train_loader:
            images, labels = images.to(device, non_blocking=True), labels.to(device, non_blocking=True)
            with mixed():
                loss = loss_fn(model(images), labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        model.eval()
        correct = total = 0
        with torch.no_grad(), mixed():
            for images, labels in val_loader:
                images, labels = images.to(device, non_blocking=True), labels.to(device, non_blocking=True)
                correct += (model(images).argmax(1) == labels).sum().item()
                total += labels.numel()
        accuracy = correct / max(1, total)
        if a.device == "cuda":
            torch.cuda.synchronize()
        epoch_times.append(time.perf_counter() - t0)

    steady = epoch_times[1:] or epoch_times
    epoch_seconds = sum(steady) / len(steady)
    images = len(train_loader) * a.batch
    result = {"gpus": a.gpus, "total_seconds": time.perf_counter() - start, "epoch_seconds": epoch_seconds,
              "images_per_second": images / epoch_seconds, "val_accuracy": accuracy,
              "torch": torch.__version__, "torchvision": torchvision.__version__}
    with open(a.json, "w") as f:
        json.dump(result, f)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
