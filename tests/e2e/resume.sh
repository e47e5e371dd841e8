#!/usr/bin/env bash
# A tiny model stopped mid-epoch (as Ctrl-C stops it) and resumed ends with the same weights, bit for
# bit, as one that was not stopped.
source "$(dirname "$0")/common.sh"
[[ -f "$WORK/no-data" ]] && skip "real ASL data not found (see the setup test)"
train_dir="$WORK/asl_alphabet_train"
out="$WORK/resume"
rm -rf "$out"
tiny=(--device cpu --arch resnet18 --width 0.125 --image-size 32 --batch 64 --epochs 2 --lr 0.05 --seed 3 --quiet
      --val-fraction 0.05 --threads 2)
"$ASLNET" train "$train_dir" --out "$out/straight" "${tiny[@]}"
"$ASLNET" train "$train_dir" --out "$out/stopped" --stop-after 100 "${tiny[@]}"
"$ASLNET" train "$train_dir" --out "$out/stopped" --resume "$out/stopped/last.safetensors" "${tiny[@]}"
same_weights "$out/straight/last.safetensors" "$out/stopped/last.safetensors" ||
  { echo "the resumed run's weights differ from the uninterrupted run's" >&2; exit 1; }
echo "stopped at step 100 and resumed: identical final checkpoint"
