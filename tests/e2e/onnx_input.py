#!/usr/bin/python3
"""What the export tests share (Debian's /usr/bin/python3 with python3-numpy and python3-pil; no torch):
the README's input for an exported ONNX model, and how its answers are measured against aslnet predict's.

    onnx_input.py prepare CHECKPOINT OUT.f32 IMAGE...
        writes the IMAGEs as the model's input (float32 little-endian, NCHW, S from the checkpoint's
        input size) and prints 'N 3 S S'
    onnx_input.py photos SYNTH_DIR OUT_DIR CLASS:WxH...
        writes OUT_DIR/photo<i>.png, the first photo of each CLASS of an `aslnet synth` folder resized to
        W x H: photos already at evaluation's resize of a 32 px model (shorter side round(32 / 0.875) =
        37), lossless, so that aslnet's resize leaves them alone and only crops the centre, which
        preprocess() repeats exactly; some not square, so the crop's offsets are checked too
    onnx_input.py compare WHAT CHECKPOINT LOGITS.json PREDICT.json IMAGE...
        LOGITS.json (a list of rows, in the order of the checkpoint's classes) against the probabilities
        `aslnet predict --json --top-k <all>` printed for the IMAGEs, by compare()

tests/e2e/export_check.py imports preprocess() and compare(); tests/e2e/export_onnxruntime.sh runs the
two commands around onnxruntime.
"""
import json
import struct
import sys

import numpy as np
from PIL import Image

TOLERANCE = 1e-4


def preprocess(path, size):
    """The README's recipe for an image already at evaluation's resize: the centre crop, / 255, NCHW."""
    image = np.asarray(Image.open(path).convert("RGB"), dtype=np.float64)
    h, w = image.shape[:2]
    top, left = int(round((h - size) / 2)), int(round((w - size) / 2))
    return image[top:top + size, left:left + size].transpose(2, 0, 1) / 255.0


def log_softmax(logits):
    """Row-wise, in float64."""
    x = np.asarray(logits, dtype=np.float64)
    shifted = x - x.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def reference_probabilities(predict_path, classes):
    """aslnet predict --json's probabilities (all classes: --top-k <all>), one row per image, in class order."""
    predicted = json.load(open(predict_path))
    return np.array([[{t["class"]: t["probability"] for t in p["top"]}[c] for c in classes] for p in predicted])


def compare(what, logits, reference, images):
    """`logits` against aslnet's float32 forward, seen through its probabilities: the log probabilities
    (the logits less each row's log-sum-exp) agree within TOLERANCE relative to the logits' magnitude (a
    barely trained model's logits reach hundreds, and float32 keeps 7 digits of them), and the
    probabilities within TOLERANCE. Probabilities that underflow in aslnet's answer are left out of the
    first measure."""
    logits = np.asarray(logits, dtype=np.float64)
    log_p = log_softmax(logits)
    scale = max(1.0, float(np.abs(logits).max()))
    kept = reference > 1e-30
    logit_error = float(np.abs(log_p - np.log(np.where(kept, reference, 1.0)))[kept].max()) / scale
    probability_error = float(np.abs(np.exp(log_p) - reference).max())
    if not (logit_error <= TOLERANCE and probability_error <= TOLERANCE):
        raise SystemExit(f"{what} differs from aslnet predict: logits by {logit_error:.2e} relative, probabilities "
                         f"by {probability_error:.2e} (images {images})")
    print(f"{what}: {len(images)} images match aslnet predict (logits within {logit_error:.1e} relative, "
          f"probabilities within {probability_error:.1e})")


def checkpoint_metadata(path):
    """The __metadata__ of an aslnet checkpoint (safetensors), read with the standard library."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        return json.loads(f.read(n)).get("__metadata__", {})


def main():
    command, args = sys.argv[1], sys.argv[2:]
    if command == "prepare":
        checkpoint, out, images = args[0], args[1], args[2:]
        meta = checkpoint_metadata(checkpoint)
        size = int(meta["input_height"])
        assert int(meta["input_width"]) == size, meta
        batch = np.stack([preprocess(path, size) for path in images]).astype("<f4")
        batch.tofile(out)
        print(*batch.shape)
    elif command == "photos":
        synth, out, specs = args[0], args[1], args[2:]
        for i, spec in enumerate(specs):
            letter, size = spec.split(":")
            width, height = (int(v) for v in size.split("x"))
            Image.open(f"{synth}/{letter}/{letter}1.jpg").convert("RGB").resize((width, height), Image.BILINEAR) \
                .save(f"{out}/photo{i}.png")
    elif command == "compare":
        what, checkpoint, logits_path, predict_path, images = args[0], args[1], args[2], args[3], args[4:]
        classes = json.loads(checkpoint_metadata(checkpoint)["classes"])
        logits = np.array(json.load(open(logits_path)), dtype=np.float64)
        assert logits.shape == (len(images), len(classes)), logits.shape
        compare(what, logits, reference_probabilities(predict_path, classes), images)
    else:
        raise SystemExit(f"onnx_input.py: unknown command {command} (prepare, photos or compare)")


if __name__ == "__main__":
    main()
