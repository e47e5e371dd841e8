#!/usr/bin/python3
"""Converts a torchvision ResNet state dict (.pth) into an aslnet checkpoint (safetensors), so training
can start from weights you already have:

    /usr/bin/python3 scripts/convert_torchvision.py resnet50.pth resnet50.safetensors [--image-size 224]
    build/aslnet train DATA --init-from resnet50.safetensors --reset-head ...

The architecture (resnet18/34/50), stem (7x7 "imagenet" or 3x3 "small"), width and class count are read
from the tensors themselves. torchvision's names and layouts are aslnet's checkpoint names and layouts,
so tensors are copied as they are (as float32); `--reset-head` at training time drops a classifier with
another number of classes. Uses Debian's python3-torch; needs no other package."""
import argparse
import json
import struct
import sys
import zlib

import torch

ASL_CLASSES = [chr(c) for c in range(ord("A"), ord("Z") + 1)] + ["del", "nothing", "space"]


def detect(state):
    blocks = {}
    for name in state:
        parts = name.split(".")
        if parts[0].startswith("layer") and len(parts) > 2:
            blocks.setdefault(parts[0], set()).add(int(parts[1]))
    counts = [len(blocks.get(f"layer{i}", ())) for i in range(1, 5)]
    bottleneck = "layer1.0.conv3.weight" in state
    arch = {(False, (2, 2, 2, 2)): "resnet18", (False, (3, 4, 6, 3)): "resnet34",
            (True, (3, 4, 6, 3)): "resnet50"}.get((bottleneck, tuple(counts)))
    if arch is None:
        sys.exit(f"error: not a torchvision resnet18/34/50 state dict (blocks per stage {counts})")
    conv1 = state["conv1.weight"]
    stem = {7: "imagenet", 3: "small"}.get(conv1.shape[-1])
    if stem is None:
        sys.exit(f"error: conv1 is {conv1.shape[-1]}x{conv1.shape[-1]}, expected 7x7 (imagenet) or 3x3 (small)")
    return arch, stem, conv1.shape[0] / 64.0, state["fc.weight"].shape[0], conv1.shape[1]


def write_safetensors(path, tensors, metadata):
    header, blobs, offset, checksums = {"__metadata__": metadata}, [], 0, {}
    # Larger elements first keeps every tensor aligned to its element size, as aslnet writes them.
    for name, t in sorted(tensors.items(), key=lambda kv: -kv[1].element_size()):
        data = t.contiguous().numpy().tobytes()
        dtype = {torch.float32: "F32", torch.int64: "I64"}[t.dtype]
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
        checksums[name] = f"{zlib.crc32(data):08x}"  # what aslnet verifies on load
    metadata["tensor_crc32"] = json.dumps(checksums, separators=(",", ":"))
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("pth", help="a torchvision ResNet state dict (torch.save(model.state_dict()))")
    p.add_argument("out", help="the aslnet checkpoint to write (.safetensors)")
    p.add_argument("--image-size", type=int, default=224, help="input size the weights were trained at")
    a = p.parse_args()
    try:
        state = torch.load(a.pth, map_location="cpu")
    except Exception as e:  # noqa: BLE001 - any failure to read is the user's file
        sys.exit(f"error: cannot read {a.pth}: {e}")
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    state = {k.removeprefix("module."): v for k, v in state.items()}
    arch, stem, width, classes, in_channels = detect(state)
    tensors = {k: (v.to(torch.int64) if k.endswith("num_batches_tracked") else v.float()) for k, v in state.items()}
    for k, v in tensors.items():
        if k.endswith("num_batches_tracked"):
            tensors[k] = v.reshape(())
    names = ASL_CLASSES if classes == len(ASL_CLASSES) else [f"class{i}" for i in range(classes)]
    metadata = {"format": "aslnet-checkpoint-1", "arch": arch, "stem": stem, "width": repr(width),
                "num_classes": str(classes), "in_channels": str(in_channels), "classes": json.dumps(names),
                "input_height": str(a.image_size), "input_width": str(a.image_size),
                "mean": "[0.485, 0.456, 0.406]", "std": "[0.229, 0.224, 0.225]", "epoch": "0", "step": "0",
                "source": a.pth}
    write_safetensors(a.out, tensors, metadata)
    print(f"wrote {a.out}: {arch}, {stem} stem, width {width:g}, {classes} classes")


if __name__ == "__main__":
    main()
