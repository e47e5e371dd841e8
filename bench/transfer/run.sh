#!/usr/bin/env bash
# The transfer benchmark: how well models trained on the Kaggle ASL frames read real hands. Trains each
# row of the protocol with aslnet train and reports, from the last epoch (no selection on any figure it
# reports), the accuracy on the Kaggle grouped split and on each real-world source
# (../shared/data/asl-realworld-dev.tar: rfasl, rfaslaug, massey, nesrine). A row never trains on a
# source it reports.
#
#   bench/transfer/run.sh [--rows 1,2,3,4,1f,2f] [--epochs 8] [--size 64] [--width 0.5] [--full-size 32]
#                         [--full-epochs 3] [--out DIR] [--aslnet build/aslnet] [--eval-only] [-- extra train flags]
#
# Rows (every one: resnet18 at --width WIDTH (half of torchvision's channels by default, so that the
# protocol runs in about an hour on 2 CPU cores), --image-size SIZE, --epochs EPOCHS, seed 0, grouped split
# of the Kaggle set):
#   1   Kaggle 200-per-class sample, today's default flags (the baseline)
#   2   Kaggle sample, --preset realworld
#   3   Kaggle sample + massey (hands on black, composited onto other backgrounds), --preset realworld;
#       reports rfasl and nesrine (other people and rooms)
#   3n  as 3 without composition (what composing bought)
#   4   Kaggle sample + rfasl and rfaslaug, --preset realworld; reports massey and nesrine
#   2a-2e  the levers of row 2 one at a time on the Kaggle sample (what each buys):
#       2a --augment strong alone   2b default + --cutmix 1 --mixup 0.2 --mixup-prob 0.5   2c default + --ema 0.998
#       2d default + --grayscale 0.5 --hue 0.1 (colour invariance)   2e default + --crop-scale 0.1,1 (smaller hands)
#   1f  as 1 on the whole 87,000-frame set at FULL_SIZE px (asl32-full.tar.gz), FULL_EPOCHS epochs
#   2f  as 2 on the whole set
# After training, each row's last checkpoint (and its EMA twin) is evaluated on the real sources the row
# reports with aslnet eval, plain and with --tta flip (OUT/<row>/eval-*.json: the accuracy restricted to
# the 26 letters present, and what test-time augmentation adds); --eval-only redoes just that for runs
# already there. Writes OUT/<row>/ (the run: log.jsonl, checkpoints, train.txt) and OUT/transfer.md and
# transfer.json (the table). Data: $ASLNET_DATA or ../shared/data.
set -euo pipefail
cd "$(dirname "$0")/../.."
rows=1,2,3,4 epochs=8 size=64 width=0.5 eval_only=0 full_size=32 full_epochs=3 out=build/transfer aslnet=build/aslnet
while [[ $# -gt 0 ]]; do
  case $1 in
    --rows) rows=$2; shift 2 ;;
    --epochs) epochs=$2; shift 2 ;;
    --size) size=$2; shift 2 ;;
    --width) width=$2; shift 2 ;;
    --full-size) full_size=$2; shift 2 ;;
    --full-epochs) full_epochs=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --aslnet) aslnet=$2; shift 2 ;;
    --eval-only) eval_only=1; shift ;;
    --) shift; break ;;
    *) echo "bench/transfer/run.sh: unknown argument $1 (see the header of this script)" >&2; exit 2 ;;
  esac
done
extra=("$@")
data=${ASLNET_DATA:-../shared/data}
for f in asl200-sample.tar asl-realworld-dev.tar; do
  [[ -f $data/$f ]] || { echo "bench/transfer/run.sh: $data/$f not found (set ASLNET_DATA)" >&2; exit 77; }
done
[[ -x $aslnet ]] || { echo "bench/transfer/run.sh: $aslnet not built (scripts/build.sh aslnet)" >&2; exit 2; }

mkdir -p "$out/data"
work=$(cd "$out" && pwd)
extract() {  # archive, folder it holds
  [[ -d $work/data/$2 ]] || tar -xf "$data/$1" -C "$work/data"
}
extract asl200-sample.tar asl_alphabet_train
extract asl-realworld-dev.tar asl_realworld_dev
kaggle=$work/data/asl_alphabet_train
real=$work/data/asl_realworld_dev
if [[ ,$rows, == *f,* ]]; then
  [[ -f $data/asl32-full.tar.gz ]] || { echo "bench/transfer/run.sh: $data/asl32-full.tar.gz not found" >&2; exit 77; }
  extract asl32-full.tar.gz asl_alphabet_train/asl_alphabet_train
  [[ -d $work/data/full ]] || mv "$work/data/asl_alphabet_train/asl_alphabet_train" "$work/data/full"
fi
full=$work/data/full

val_all=(--val-dir "$real@rfasl" --val-dir "$real@rfaslaug" --val-dir "$real@massey" --val-dir "$real@nesrine")
val_unseen_rf=(--val-dir "$real@rfasl" --val-dir "$real@nesrine")
val_unseen_massey=(--val-dir "$real@massey" --val-dir "$real@nesrine")
common=(--arch resnet18 --width "$width" --seed 0 --val-fraction 0.1 --split grouped)

# The real sources a finished row reports (its validation sets of the dev set), evaluated plain and with
# --tta flip, for its last checkpoint and the EMA's.
eval_row() {  # row
  local dir=$work/$1 sources=() name
  for name in $(/usr/bin/python3 -c "
import json, sys
epochs = [r for r in map(json.loads, open(sys.argv[1])) if r['event'] == 'epoch']
print(' '.join(n for n in ('rfasl', 'rfaslaug', 'massey', 'nesrine') if n in epochs[-1].get('val_sets', {})))
" "$dir/log.jsonl"); do sources+=("$real@$name"); done
  [[ ${#sources[@]} -gt 0 ]] || return 0
  local weights tta
  for weights in last last-ema; do
    [[ -f $dir/$weights.safetensors ]] || continue
    for tta in none flip; do
      "$aslnet" eval "$dir/$weights.safetensors" "${sources[@]}" --tta "$tta" --json > "$dir/eval-$weights-$tta.json" \
        2> "$dir/eval-$weights-$tta.err" || { echo "row $1: eval failed:"; cat "$dir/eval-$weights-$tta.err"; return 1; }
    done
  done
}

run_row() {  # row, description, train flags...
  local row=$1 what=$2
  shift 2
  if (( eval_only )); then
    [[ -f $work/$row/log.jsonl ]] || { echo "row $row: no run in $work/$row to evaluate" >&2; return 1; }
    eval_row "$row"
    return
  fi
  local dir=$work/$row
  rm -rf "$dir"
  mkdir -p "$dir"
  # --overwrite: the folder already holds what.txt and command.txt, written below.
  local cmd=("$aslnet" train "$@" "${common[@]}" "${extra[@]}" --out "$dir" --overwrite --quiet)
  echo "row $row: $what"
  echo "  ${cmd[*]}"
  printf '%s\n' "$what" > "$dir/what.txt"
  printf '%q ' "${cmd[@]}" > "$dir/command.txt"
  local start=$SECONDS
  "${cmd[@]}" > "$dir/train.txt" 2>&1 || { echo "row $row failed:"; tail -5 "$dir/train.txt"; return 1; }
  echo $((SECONDS - start)) > "$dir/seconds.txt"
  echo "  $(tail -1 "$dir/train.txt") ($((SECONDS - start)) s)"
  eval_row "$row"
}

IFS=, read -ra wanted <<< "$rows"
for row in "${wanted[@]}"; do
  case $row in
    1) run_row 1 "Kaggle sample, default flags" "$kaggle" "${val_all[@]}" --image-size "$size" --epochs "$epochs" ;;
    2) run_row 2 "Kaggle sample, --preset realworld" "$kaggle" "${val_all[@]}" --image-size "$size" --epochs "$epochs" \
         --preset realworld ;;
    3) run_row 3 "Kaggle sample + massey (composited), --preset realworld" "$kaggle" "$real@massey" "${val_unseen_rf[@]}" \
         --image-size "$size" --epochs "$epochs" --preset realworld --source-weight 0.5,0.5 --compose massey \
         --backgrounds "$kaggle/nothing" ;;
    3n) run_row 3n "Kaggle sample + massey (not composited), --preset realworld" "$kaggle" "$real@massey" \
         "${val_unseen_rf[@]}" --image-size "$size" --epochs "$epochs" --preset realworld --source-weight 0.5,0.5 ;;
    4) run_row 4 "Kaggle sample + rfasl + rfaslaug, --preset realworld" "$kaggle" "$real@rfasl+rfaslaug" \
         "${val_unseen_massey[@]}" --image-size "$size" --epochs "$epochs" --preset realworld --source-weight 0.5,0.5 ;;
    2a) run_row 2a "Kaggle sample, --augment strong" "$kaggle" "${val_all[@]}" --image-size "$size" --epochs "$epochs" \
         --augment strong ;;
    2b) run_row 2b "Kaggle sample, cutmix/mixup" "$kaggle" "${val_all[@]}" --image-size "$size" --epochs "$epochs" \
         --cutmix 1 --mixup 0.2 --mixup-prob 0.5 ;;
    2c) run_row 2c "Kaggle sample, EMA" "$kaggle" "${val_all[@]}" --image-size "$size" --epochs "$epochs" --ema 0.998 ;;
    2d) run_row 2d "Kaggle sample, grayscale + hue" "$kaggle" "${val_all[@]}" --image-size "$size" --epochs "$epochs" \
         --grayscale 0.5 --hue 0.1 ;;
    2e) run_row 2e "Kaggle sample, crop scale 0.1-1" "$kaggle" "${val_all[@]}" --image-size "$size" --epochs "$epochs" \
         --crop-scale 0.1,1 ;;
    1f) run_row 1f "Kaggle 87,000 frames, default flags" "$full" "${val_all[@]}" --image-size "$full_size" \
         --epochs "$full_epochs" ;;
    2f) run_row 2f "Kaggle 87,000 frames, --preset realworld" "$full" "${val_all[@]}" --image-size "$full_size" \
         --epochs "$full_epochs" --preset realworld ;;
    *) echo "bench/transfer/run.sh: unknown row $row (1, 2, 2a-2e, 3, 3n, 4, 1f, 2f)" >&2; exit 2 ;;
  esac
done
/usr/bin/python3 bench/transfer/table.py "$work" > "$work/transfer.md"
cat "$work/transfer.md"
