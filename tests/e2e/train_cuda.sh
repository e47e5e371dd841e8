#!/usr/bin/env bash
# aslnet train --device cuda end to end: a small ResNet trains on generated images in fp32 and in bf16
# mixed precision, its training loss falls, it writes checkpoints, and the CPU evaluates a GPU-trained
# checkpoint to the accuracy the GPU run reported; two replicas sharing the GPU train too; aslnet
# translate reads frames on the GPU as on the CPU. Skips
# without a GPU (fails under ASLNET_REQUIRE_GPU=1).
source "$(dirname "$0")/common.sh"
if ! grep -q '^  cuda:0' <<< "$("$ASLNET" info)"; then
  reason="no CUDA GPU available"
  grep -q '^built without CUDA' <<< "$("$ASLNET" --version)" && reason="built without CUDA"
  if [[ -n "${ASLNET_REQUIRE_GPU:-}" && "${ASLNET_REQUIRE_GPU}" != 0 ]]; then echo "$reason (and ASLNET_REQUIRE_GPU is set)" >&2; exit 1; fi
  echo "skipped: train_cuda: $reason"; exit 77
fi
py=/usr/bin/python3; [[ -x $py ]] || py=python3
work="$WORK-cuda"
rm -rf "$work" && mkdir -p "$work"
"$ASLNET" synth --out "$work/synth" --per-class 100 --size 64 --seed 11 > /dev/null
for precision in fp32 bf16; do
  # bf16 also replays its steps as a CUDA graph.
  graph=(); [[ $precision == bf16 ]] && graph=(--cuda-graph)
  "$ASLNET" train "$work/synth" --device cuda --precision "$precision" "${graph[@]}" --arch resnet18 --width 0.5 --stem small \
    --image-size 48 --epochs 12 --batch 64 --optimizer adamw --lr 0.002 --weight-decay 0.01 --split random \
    --val-fraction 0.2 --seed 3 \
    --out "$work/$precision" --quiet
  [[ -f "$work/$precision/last.safetensors" && -f "$work/$precision/best.safetensors" ]]
  "$py" - "$work/$precision/log.jsonl" "$precision" <<'PY'
import json, sys
events = [json.loads(l) for l in open(sys.argv[1])]
epochs = [e for e in events if e.get("event") == "epoch"]
assert len(epochs) == 12, epochs
first, last = epochs[0]["train_loss"], epochs[-1]["train_loss"]
assert last < 0.7 * first, f"{sys.argv[2]}: training loss went from {first} to {last}"
print(f"{sys.argv[2]}: train loss {first:.3f} -> {last:.3f}")
PY
done
# A checkpoint trained on the GPU is a plain checkpoint: the CPU evaluates it.
"$ASLNET" eval "$work/fp32/last.safetensors" "$work/synth" --device cpu --json --threads 2 > "$work/eval.json"
"$py" -c "import json,sys; r=json.load(open(sys.argv[1])); assert r['images'] > 0; print('cpu eval of the gpu checkpoint:', r['accuracy'])" "$work/eval.json"
# eval on the GPU (its default here, --device auto) reads the checkpoint as the CPU does.
"$ASLNET" eval "$work/fp32/last.safetensors" "$work/synth" --json > "$work/eval-gpu.json"
"$py" -c "import json,sys; c,g=(json.load(open(p)) for p in sys.argv[1:]); assert g['images']==c['images'] and abs(g['accuracy']-c['accuracy'])<=0.01, (c['accuracy'], g['accuracy']); print('gpu eval:', g['accuracy'])" "$work/eval.json" "$work/eval-gpu.json"
# Two replicas sharing the GPU (the in-process communicator, the reducer's communication stream and
# events): the run trains, replica 0 logs for both.
"$ASLNET" train "$work/synth" --device cuda --devices 0,0 --arch resnet18 --width 0.5 --stem small \
  --image-size 48 --epochs 6 --batch 64 --optimizer adamw --lr 0.002 --weight-decay 0.01 --split random \
  --val-fraction 0.2 --seed 3 --out "$work/replicas" --quiet
"$py" - "$work/replicas/log.jsonl" <<'PY'
import json, sys
events = [json.loads(l) for l in open(sys.argv[1])]
assert events[0]["replicas"] == 2, events[0]
epochs = [e for e in events if e.get("event") == "epoch"]
first, last = epochs[0]["train_loss"], epochs[-1]["train_loss"]
assert last < 0.8 * first, f"two replicas on one GPU: training loss went from {first} to {last}"
print(f"--devices 0,0: train loss {first:.3f} -> {last:.3f}, validation {epochs[-1]['val']['accuracy']:.3f}")
PY
# aslnet translate on the GPU reads a frame sequence as the CPU does: the same text and per-frame letters
# from the fp32 checkpoint, for frames taken from the synthetic classes in sign order.
frames="$work/frames"
mkdir -p "$frames"
n=0
for sign in H I space Y O; do
  for f in $(ls "$work/synth/$sign"/*.jpg | head -4); do n=$((n + 1)); cp "$f" "$frames/frame$n.jpg"; done
done
for device in cpu cuda; do
  "$ASLNET" translate --checkpoint "$work/fp32/best.safetensors" "$frames" --device "$device" --json \
    > "$work/translate-$device.json"
done
"$py" - "$work/translate-cpu.json" "$work/translate-cuda.json" <<'PY'
import json, sys
cpu, gpu = (json.load(open(p)) for p in sys.argv[1:])
assert cpu["text"] == gpu["text"], (cpu["text"], gpu["text"])
tops = lambda r: [f.get("top") for f in r["per_frame"]]
assert tops(cpu) == tops(gpu), "per-frame letters differ between the CPU and the GPU"
worst = max(abs(a["confidence"] - b["confidence"]) for a, b in zip(cpu["per_frame"], gpu["per_frame"]))
assert worst < 1e-3, worst
print(f"translate on the GPU: '{gpu['text']}', as on the CPU (confidences within {worst:.1e})")
PY
