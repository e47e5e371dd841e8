#!/usr/bin/env bash
# aslnet train from several sources, from the command line, on synthetic hands (no real data needed):
# a folder source beside an origin-selected one (DIR@ORIGIN) with --source-weight, --val-dir sources each
# reported by name (one of them lacking classes), --preset realworld (strong augmentation, cutmix/mixup,
# EMA) with --compose onto background photos; the log names every source and validation set, the EMA
# checkpoints are written and evaluate; bad recipe flags are one-line errors.
source "$(dirname "$0")/common.sh"
work="$WORK-train-sources"
rm -rf "$work" && mkdir -p "$work"
"$ASLNET" synth --out "$work/kaggle" --per-class 6 --size 48 --seed 1 > /dev/null
"$ASLNET" synth --out "$work/other" --per-class 4 --size 48 --seed 2 > /dev/null
# A "dev" folder in the real-world set's layout: <class>/<origin>_<n>.jpg from two origins; origin
# "phone" lacks every class after D.
for class_dir in "$work/other"/*/; do
  class=$(basename "$class_dir")
  mkdir -p "$work/dev/$class"
  n=0
  for f in "$class_dir"*.jpg; do
    if (( n % 2 == 0 )); then cp "$f" "$work/dev/$class/studio_$n.jpg"
    elif [[ $class < E ]]; then cp "$f" "$work/dev/$class/phone_$n.jpg"; fi
    n=$((n + 1))
  done
done
common=(--epochs 2 --batch 16 --width 0.25 --image-size 32 --threads 2 --quiet)
"$ASLNET" train "$work/kaggle" "$work/dev@studio" --source-weight 0.75,0.25 --val-dir "$work/dev@phone" \
    --val-fraction 0.2 --split random --preset realworld --compose studio --backgrounds "$work/kaggle/nothing" \
    "${common[@]}" --out "$work/run" > "$work/train.txt"
log=$work/run/log.jsonl
/usr/bin/python3 - "$log" <<'PY'
import json, sys
records = [json.loads(l) for l in open(sys.argv[1])]
start = next(r for r in records if r["event"] == "start")
names = [s["name"] for s in start["train_sources"]]
assert names == ["kaggle", "studio"], names
per_epoch = [s["per_epoch"] for s in start["train_sources"]]
total = sum(s["images"] for s in start["train_sources"])
assert sum(per_epoch) == total and abs(per_epoch[0] - 0.75 * total) <= 1, per_epoch
epochs = [r for r in records if r["event"] == "epoch"]
assert len(epochs) == 2, len(epochs)
sets = epochs[-1]["val_sets"]
assert set(sets) == {"kaggle", "studio", "phone"}, sets
assert sets["phone"]["count"] == 4 * 2, sets["phone"]  # classes A-D, two phone photos each
assert epochs[-1]["val"]["count"] == sum(v["count"] for v in sets.values())
assert set(epochs[-1]["ema_val_sets"]) == set(sets)
print("train_sources: sources", names, "per epoch", per_epoch, "validation sets", sorted(sets))
PY
for f in best.safetensors last.safetensors best-ema.safetensors last-ema.safetensors; do
  [[ -s $work/run/$f ]] || { echo "train_sources: $f not written" >&2; exit 1; }
done
"$ASLNET" eval "$work/run/last-ema.safetensors" "$work/other" > "$work/eval.txt"
grep -qi "accuracy" "$work/eval.txt"

# Bad recipe flags: one line naming the flag.
expect_error() {  # pattern, train arguments...
  local pattern=$1
  shift
  if "$ASLNET" train "$@" "${common[@]}" --out "$work/bad" > /dev/null 2> "$work/err.txt"; then
    echo "train_sources: accepted $*" >&2; exit 1
  fi
  grep -q -- "$pattern" "$work/err.txt" || { echo "train_sources: expected '$pattern' in:"; cat "$work/err.txt"; exit 1; }
}
expect_error "--compose nobody" "$work/kaggle" --compose nobody
expect_error "--source-weight" "$work/kaggle" "$work/dev@studio" --source-weight 1,2,3
expect_error "training sources and --val-dir" "$work/kaggle" --val-dir "$work/kaggle"
expect_error "--crop-scale" "$work/kaggle" --crop-scale 0.9,0.2
expect_error "--augment" "$work/kaggle" --augment wild
expect_error "selected origins" "$work/kaggle" "$work/dev@nobody"
# Backgrounds are never validation photos: a folder held out whole for validation cannot serve.
expect_error "held out for validation" "$work/kaggle" "$work/dev@studio" --compose studio \
    --backgrounds "$work/other/nothing" --val-dir "$work/other"
echo "train_sources: ok"
