#!/usr/bin/python3
"""The checks of tests/e2e/export.sh on one exported model (run with Debian's /usr/bin/python3):

    export_check.py MODEL.onnx WEIGHTS.safetensors PREDICT.json IMAGE.png...

MODEL.onnx must pass onnx.checker and compute, on the IMAGEs preprocessed as the README says (centre crop
of an image already at evaluation's resize, pixels / 255, NCHW; nothing else: the normalisation is folded
into the graph), the class probabilities `aslnet predict --json --top-k <all>` printed for them
(PREDICT.json), to 1e-4 relative (onnx_input.compare() says how that is measured); its 'probabilities'
output is the softmax of its 'logits', and its metadata names the classes. WEIGHTS.safetensors (aslnet
export --format safetensors) must load into torchvision's ResNet of the checkpoint's architecture and
stem, with its layers sized as the checkpoint's width makes them, and give the same probabilities.

Debian 12's python3-onnx (1.12) has no onnx.reference evaluator, so the graph runs here through a small
interpreter of the few operators the exporter writes, on torch's functional ops in float64.
"""
import json
import struct
import sys

import numpy as np
import onnx
import torch
import torch.nn.functional as F
import torchvision
from onnx import numpy_helper

from onnx_input import compare, preprocess  # shared with export_onnxruntime.sh (tests/e2e/onnx_input.py)


def attributes(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def symmetric_padding(pads):
    half = len(pads) // 2
    assert list(pads[:half]) == list(pads[half:]), f"asymmetric pads {pads}"
    return list(pads[:half])


def run_graph(model, feeds):
    """Evaluates the graph's nodes in order, each by its ONNX definition."""
    values = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy()).double() for t in model.graph.initializer}
    values.update({k: torch.from_numpy(v).double() for k, v in feeds.items()})
    for node in model.graph.node:
        x = [values[name] for name in node.input]
        a = attributes(node)
        op = node.op_type
        if op == "Sub":
            y = x[0] - x[1]
        elif op == "Add":
            y = x[0] + x[1]
        elif op == "Conv":
            assert a.get("group", 1) == 1 and a.get("dilations", [1, 1]) == [1, 1]
            y = F.conv2d(x[0], x[1], x[2] if len(x) > 2 else None, stride=a["strides"],
                         padding=symmetric_padding(a["pads"]))
        elif op == "Relu":
            y = F.relu(x[0])
        elif op == "MaxPool":
            y = F.max_pool2d(x[0], a["kernel_shape"], a["strides"], symmetric_padding(a["pads"]))
        elif op == "GlobalAveragePool":
            y = x[0].mean(dim=(2, 3), keepdim=True)
        elif op == "Flatten":
            y = torch.flatten(x[0], a.get("axis", 1))
        elif op == "Gemm":
            assert a.get("transB", 0) == 1 and a.get("transA", 0) == 0
            y = x[0] @ x[1].T * a.get("alpha", 1.0) + x[2] * a.get("beta", 1.0)
        elif op == "Softmax":
            y = torch.softmax(x[0], a.get("axis", -1))
        else:
            raise SystemExit(f"the exported graph has a {op} node, which this test does not interpret")
        values[node.output[0]] = y
    return {o.name: values[o.name].numpy() for o in model.graph.output}


def read_safetensors(path):
    data = open(path, "rb").read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    metadata = header.pop("__metadata__", {})
    dtypes = {"F32": np.float32, "I64": np.int64}
    tensors = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        raw = np.frombuffer(data[8 + n + begin:8 + n + end], dtype=dtypes[info["dtype"]])
        tensors[name] = torch.from_numpy(raw.reshape(info["shape"]).copy())
    return tensors, metadata


def torchvision_model(state, metadata):
    """torchvision's ResNet of the checkpoint's architecture and stem, each layer resized to the tensor
    that will fill it (the width multiplier scales every channel count), with the state loaded strictly."""
    model = getattr(torchvision.models, metadata["arch"])(num_classes=int(metadata["num_classes"]))
    if metadata["stem"] == "small":
        model.conv1 = torch.nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        model.maxpool = torch.nn.Identity()
    for name, module in list(model.named_modules()):
        parent = model.get_submodule(name.rpartition(".")[0]) if "." in name else model
        leaf = name.rpartition(".")[2]
        if isinstance(module, torch.nn.Conv2d):
            o, i = state[name + ".weight"].shape[:2]
            setattr(parent, leaf, torch.nn.Conv2d(i, o, module.kernel_size, module.stride, module.padding, bias=False))
        elif isinstance(module, torch.nn.BatchNorm2d):
            setattr(parent, leaf, torch.nn.BatchNorm2d(state[name + ".weight"].shape[0]))
        elif isinstance(module, torch.nn.Linear):
            o, i = state[name + ".weight"].shape
            setattr(parent, leaf, torch.nn.Linear(i, o))
    model.load_state_dict(state, strict=True)
    return model.double().eval()


def main():
    onnx_path, weights_path, predict_path, images = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    model = onnx.load(onnx_path)
    onnx.checker.check_model(model, full_check=True)
    assert model.opset_import[0].version >= 17, model.opset_import
    meta = {p.key: p.value for p in model.metadata_props}
    classes, size = json.loads(meta["classes"]), int(meta["input_size"])
    graph_input = model.graph.input[0]
    dims = graph_input.type.tensor_type.shape.dim
    assert graph_input.name == "input" and dims[0].dim_param and [d.dim_value for d in dims[1:]] == [3, size, size], \
        graph_input
    assert [o.name for o in model.graph.output] == ["logits", "probabilities"], model.graph.output
    ops = {n.op_type for n in model.graph.node}
    assert "BatchNormalization" not in ops, "batch norm was not folded"

    # aslnet's answers, in class order.
    predicted = json.load(open(predict_path))
    reference = np.array([[{t["class"]: t["probability"] for t in p["top"]}[c] for c in classes] for p in predicted])
    batch = np.stack([preprocess(path, size) for path in images])
    out = run_graph(model, {"input": batch})
    logits, probabilities = out["logits"], out["probabilities"]
    assert logits.shape == (len(images), len(classes)), logits.shape
    softmax = torch.softmax(torch.from_numpy(logits), 1).numpy()
    assert np.abs(softmax - probabilities).max() < 1e-12, "probabilities is not the softmax of logits"
    compare("ONNX", logits, reference, images)
    # One image alone gives the same row as in the batch (the batch dimension is free).
    alone = run_graph(model, {"input": batch[1:2]})["probabilities"]
    assert np.abs(alone - probabilities[1:2]).max() < 1e-12

    state, metadata = read_safetensors(weights_path)
    assert not any(k.startswith("optimizer.") for k in state), "the weights-only file holds optimizer state"
    assert "optimizer" not in metadata and json.loads(metadata["classes"]) == classes, metadata
    torch_model = torchvision_model(state, metadata)
    # torchvision takes normalised input: the checkpoint's mean and std, as aslnet applies them.
    mean = torch.tensor(json.loads(metadata["mean"]), dtype=torch.float64).view(1, 3, 1, 1)
    std = torch.tensor(json.loads(metadata["std"]), dtype=torch.float64).view(1, 3, 1, 1)
    with torch.no_grad():
        theirs = torch_model((torch.from_numpy(batch) - mean) / std).numpy()
    compare("torchvision on the weights-only file", theirs, reference, images)
    # Both in float64: the folded graph against the unfolded network, without aslnet's float32 between them
    # (only the folded weights' rounding to float32 separates them).
    folding = float(np.abs(logits - theirs).max()) / max(1.0, float(np.abs(theirs).max()))
    if not folding <= 1e-5:
        raise SystemExit(f"the ONNX logits differ from torchvision's by {folding:.2e} relative")
    print(f"ONNX against torchvision (float64 both): logits within {folding:.1e} relative")


if __name__ == "__main__":
    main()
