#!/usr/bin/env bash
# --resume must not replace OUT/best.safetensors with a worse model: the best validation accuracy of
# the run so far travels in the checkpoint's metadata. Here the interrupted checkpoint claims a best of
# 100%, which no later epoch can beat, so best.safetensors must stay the file epoch 1 wrote.
source "$(dirname "$0")/common.sh"
work="$WORK/resume_best"
rm -rf "$work"
"$ASLNET" synth --out "$work/data" --per-class 8 --size 32 --seed 4 > /dev/null
tiny=(--device cpu --arch resnet18 --width 0.125 --image-size 32 --batch 16 --epochs 3 --lr 0.05 --seed 3 --quiet
      --val-fraction 0.25 --split random --threads 2 --out "$work/run")
# 29 classes x 6 training images = 174, 10 steps an epoch: stop one step into epoch 2.
"$ASLNET" train "$work/data" "${tiny[@]}" --stop-after 11 > /dev/null
[[ -f "$work/run/best.safetensors" ]] || { echo "epoch 1 wrote no best.safetensors" >&2; exit 1; }
recorded=$(/usr/bin/python3 - "$work/run/last.safetensors" <<'PY'
import json, struct, sys
with open(sys.argv[1], "rb") as f:
    n = struct.unpack("<Q", f.read(8))[0]
    print(json.loads(f.read(n))["__metadata__"]["best_val_accuracy"])
PY
)
echo "the interrupted checkpoint records best_val_accuracy $recorded"
# Claim 100%: rewrite the header with the new metadata (tensor offsets are relative to its end).
/usr/bin/python3 - "$work/run/last.safetensors" <<'PY'
import json, struct, sys
path = sys.argv[1]
with open(path, "rb") as f:
    n = struct.unpack("<Q", f.read(8))[0]
    header = json.loads(f.read(n))
    data = f.read()
header["__metadata__"]["best_val_accuracy"] = "1"
text = json.dumps(header).encode()
text += b" " * ((8 - len(text) % 8) % 8)
with open(path, "wb") as f:
    f.write(struct.pack("<Q", len(text)) + text + data)
PY
before=$(sha256sum < "$work/run/best.safetensors")
"$ASLNET" train "$work/data" "${tiny[@]}" --resume "$work/run/last.safetensors" > /dev/null
after=$(sha256sum < "$work/run/best.safetensors")
[[ "$before" == "$after" ]] || { echo "--resume replaced best.safetensors with a worse model" >&2; exit 1; }
echo "resumed to the end: best.safetensors kept"
