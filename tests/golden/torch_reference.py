#!/usr/bin/python3
"""Reference values for the golden model test (tests/models/test_golden.cpp), computed by torchvision.

The C++ test initialises a ResNet, saves it with save_checkpoint (torchvision's names, OIHW
convolution weights) and writes a batch of images and labels; this script loads both into
torchvision's own ResNet, converted to float64 so the reference is exact to the engine's precision,
and records what the engine must reproduce:

  logits                 train-mode logits of the initial model
  loss                   its cross-entropy loss (with label smoothing)
  grad.<param name>      every parameter's gradient, in torch's layouts (OIHW for convolutions)
  loss.1 .. loss.<steps> the loss of each of `steps` SGD steps on the same batch, from the initial weights
  eval_logits            eval-mode logits after those steps (uses the updated running statistics)
  final.bn1.running_mean, final.bn1.running_var, final.fc.weight   state after the steps, for debugging

Files are safetensors (8-byte little-endian header length, JSON header, raw little-endian data). The
`safetensors` package is not assumed to be installed, so the format is read and written here with
struct + json. Run with Debian's interpreter (/usr/bin/python3), which has python3-torch.
"""

import argparse
import json
import struct
import sys

import torch
import torch.nn as nn
import torchvision

_DTYPES = {
    "F64": torch.float64,
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "I64": torch.int64,
    "I32": torch.int32,
    "I16": torch.int16,
    "I8": torch.int8,
    "U8": torch.uint8,
    "BOOL": torch.bool,
}
_NAMES = {v: k for k, v in _DTYPES.items()}


def read_safetensors(path):
    """Returns ({name: tensor}, metadata dict)."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise ValueError(f"{path}: too short for a safetensors file")
    (header_len,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + header_len].decode("utf-8"))
    base = 8 + header_len
    metadata = header.pop("__metadata__", {}) or {}
    tensors = {}
    for name, info in header.items():
        dtype = _DTYPES[info["dtype"]]
        begin, end = info["data_offsets"]
        shape = list(info["shape"])
        raw = bytearray(data[base + begin : base + end])  # writable copy: frombuffer warns otherwise
        if len(raw) == 0:
            t = torch.empty(shape, dtype=dtype)
        else:
            t = torch.frombuffer(raw, dtype=dtype).reshape(shape).clone()
        tensors[name] = t
    return tensors, metadata


def write_safetensors(path, tensors):
    """Writes {name: tensor} (any supported dtype), in sorted name order."""
    header = {}
    chunks = []
    offset = 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous().cpu()
        raw = t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.view(torch.int16).numpy().tobytes()
        header[name] = {"dtype": _NAMES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    blob = json.dumps(header, separators=(",", ":")).encode("utf-8")
    blob += b" " * ((8 - len(blob) % 8) % 8)  # keep the data 8-byte aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(blob)))
        f.write(blob)
        for raw in chunks:
            f.write(raw)


def build_model(arch, stem, weights):
    model = getattr(torchvision.models, arch)(num_classes=29)
    if stem == "small":
        model.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
        model.maxpool = nn.Identity()
    elif stem != "imagenet":
        raise ValueError(f"unknown stem {stem}")
    model = model.double()
    state = {k: v for k, v in weights.items() if not k.startswith("optimizer.")}
    converted = {}
    reference = model.state_dict()
    for k, v in state.items():
        if k not in reference:
            raise KeyError(f"checkpoint tensor {k} is not in torchvision's {arch}")
        want = reference[k]
        if tuple(v.shape) != tuple(want.shape):
            # num_batches_tracked may be stored as [1] rather than a scalar
            if v.numel() == want.numel():
                v = v.reshape(want.shape)
            else:
                raise ValueError(f"{k}: checkpoint shape {list(v.shape)}, torchvision {list(want.shape)}")
        converted[k] = v.to(want.dtype)
    missing = [k for k in reference if k not in converted]
    if missing:
        raise KeyError(f"checkpoint lacks {missing[:5]}{'...' if len(missing) > 5 else ''}")
    model.load_state_dict(converted, strict=True)
    return model


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", required=True, choices=["resnet18", "resnet34", "resnet50"])
    parser.add_argument("--stem", default="imagenet", choices=["imagenet", "small"])
    parser.add_argument("--weights", required=True)
    parser.add_argument("--inputs", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--momentum", type=float, default=0.9)
    parser.add_argument("--weight-decay", type=float, default=1e-4)
    parser.add_argument("--label-smoothing", type=float, default=0.1)
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    args = parser.parse_args()

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)

    weights, _ = read_safetensors(args.weights)
    inputs, _ = read_safetensors(args.inputs)
    images = inputs["images"].to(torch.float64).permute(0, 3, 1, 2).contiguous()  # NHWC -> NCHW
    labels = inputs["labels"].to(torch.int64).reshape(-1)
    criterion = nn.CrossEntropyLoss(label_smoothing=args.label_smoothing)
    out = {}

    # Forward and backward of the initial model.
    model = build_model(args.arch, args.stem, weights)
    model.train()
    logits = model(images)
    loss = criterion(logits, labels)
    loss.backward()
    out["logits"] = logits.detach()
    out["loss"] = loss.detach().reshape(1)
    for name, p in model.named_parameters():
        out["grad." + name] = p.grad.detach()
    out["after_one_forward.bn1.running_mean"] = model.bn1.running_mean.detach().clone()
    out["after_one_forward.bn1.running_var"] = model.bn1.running_var.detach().clone()

    # SGD steps from the initial weights and running statistics (a fresh model: the forward above
    # moved the running statistics).
    model = build_model(args.arch, args.stem, weights)
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum,
                                weight_decay=args.weight_decay)
    for step in range(1, args.steps + 1):
        optimizer.zero_grad(set_to_none=True)
        loss = criterion(model(images), labels)
        loss.backward()
        optimizer.step()
        out[f"loss.{step}"] = loss.detach().reshape(1)

    model.eval()
    with torch.no_grad():
        out["eval_logits"] = model(images)
    out["final.bn1.running_mean"] = model.bn1.running_mean.detach().clone()
    out["final.bn1.running_var"] = model.bn1.running_var.detach().clone()
    out["final.fc.weight"] = model.fc.weight.detach().clone()

    write_safetensors(args.out, {k: v.to(torch.float64) for k, v in out.items()})
    losses = " ".join(f"{out[f'loss.{s}'].item():.10f}" for s in range(1, args.steps + 1))
    print(f"torch_reference: {args.arch}/{args.stem}: loss {out['loss'].item():.10f}; steps {losses}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
