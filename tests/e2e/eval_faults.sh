#!/usr/bin/env bash
# Unreadable photos are left out of every figure and named, never replaced by a neighbour and counted
# (issue: nothing lost, nothing misreported). On synthetic images, so that it runs without the real data:
# - eval of a set whose every B photo is corrupt: B has no images, C has its own 6, and the 6 files
#   are listed as unreadable;
# - a training run validating on that set: its figures count the readable photos only, and its log
#   says how many files it skipped.
source "$(dirname "$0")/common.sh"
work="$WORK/eval_faults"
rm -rf "$work"
"$ASLNET" synth --out "$work/data" --per-class 6 --size 32 --seed 8 > /dev/null
cp -r "$work/data" "$work/broken"
for f in "$work"/broken/B/*.jpg; do head -c 100 "$f" > "$f.part" && mv "$f.part" "$f"; done
"$ASLNET" train "$work/data" --arch resnet18 --width 0.125 --image-size 32 --batch 16 --epochs 1 --quiet \
  --val-dir "broken=$work/broken" --threads 2 --out "$work/run" > /dev/null
"$ASLNET" eval "$work/run/last.safetensors" "$work/broken" --json > "$work/eval.json"
/usr/bin/python3 - "$work/eval.json" "$work/run/log.jsonl" <<'PY'
import json, sys
result = json.load(open(sys.argv[1]))
source = result["sources"][0]
assert len(source["skipped_files"]) == 6, source["skipped_files"]
assert all("/B/" in f for f in source["skipped_files"]), source["skipped_files"]
assert source["images"] == 29 * 6 - 6, f"eval counted {source['images']} images, expected {29 * 6 - 6}"
per_class = source["per_class"]
assert per_class.get("B", {}).get("count", 0) == 0, per_class.get("B")
assert per_class["C"]["count"] == 6, per_class["C"]
epoch = [json.loads(line) for line in open(sys.argv[2]) if json.loads(line).get("event") == "epoch"][-1]
assert epoch["skipped_files"] == 6, epoch
assert epoch["val"]["count"] == 29 * 6 - 6, epoch["val"]
print(f"eval: {source['images']} images scored (C {per_class['C']['count']}), 6 unreadable named; training "
      f"validation: {epoch['val']['count']} scored, skipped_files {epoch['skipped_files']}")
PY
