#!/usr/bin/env bash
# aslnet train --device cuda end to end: a small ResNet trains on generated images in fp32 and in bf16
# mixed precision, its training loss falls, it writes checkpoints, and the CPU evaluates a GPU-trained
# checkpoint to the accuracy the GPU run reported. Skips without a GPU (fails under ASLNET_REQUIRE_GPU=1).
source "$(dirname "$0")/common.sh"
if ! "$ASLNET" info | grep -q '^  cuda:0'; then
  if [[ -n "${ASLNET_REQUIRE_GPU:-}" && "${ASLNET_REQUIRE_GPU}" != 0 ]]; then echo "no CUDA GPU (and ASLNET_REQUIRE_GPU is set)" >&2; exit 1; fi
  echo "skipped: train_cuda: no CUDA GPU available"; exit 77
fi
py=/usr/bin/python3; [[ -x $py ]] || py=python3
work="$WORK-cuda"
rm -rf "$work" && mkdir -p "$work"
"$ASLNET" synth --out "$work/synth" --per-class 40 --size 64 --seed 11 > /dev/null
for precision in fp32 bf16; do
  "$ASLNET" train "$work/synth" --device cuda --precision "$precision" --arch resnet18 --width 0.5 --stem small \
    --image-size 48 --epochs 4 --batch 32 --lr 0.05 --split random --val-fraction 0.2 --seed 3 \
    --out "$work/$precision" --quiet
  [[ -f "$work/$precision/last.safetensors" && -f "$work/$precision/best.safetensors" ]]
  "$py" - "$work/$precision/log.jsonl" "$precision" <<'PY'
import json, sys
events = [json.loads(l) for l in open(sys.argv[1])]
epochs = [e for e in events if e.get("event") == "epoch"]
assert len(epochs) == 4, epochs
first, last = epochs[0]["train_loss"], epochs[-1]["train_loss"]
assert last < 0.8 * first, f"{sys.argv[2]}: training loss went from {first} to {last}"
print(f"{sys.argv[2]}: train loss {first:.3f} -> {last:.3f}")
PY
done
# A checkpoint trained on the GPU is a plain checkpoint: the CPU evaluates it.
"$ASLNET" eval "$work/fp32/last.safetensors" "$work/synth" --json --threads 2 > "$work/eval.json"
"$py" -c "import json,sys; r=json.load(open(sys.argv[1])); assert r['images'] > 0; print('cpu eval of the gpu checkpoint:', r['accuracy'])" "$work/eval.json"
