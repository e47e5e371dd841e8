#!/usr/bin/env bash
# ZeRO stage 1 from the command line, on the CPU (aslnet train --zero 1; engine/replication/zero_shards.h):
#  1. Two replicas with the optimizer state sharded (--zero 1) train to the weights of two replicas
#     without (--zero 0), and their checkpoint holds the same, whole optimizer state (gathered from the
#     shards), bit for bit: the in-process group's reduce-scatter averages as its all-reduce does.
#  2. The trainer prints each replica's optimizer state: half the whole with --zero 1.
#  3. The checkpoint written with --zero 1 resumes without it (and the one written without it resumes
#     with it): both runs end where the plain run, resumed plainly, ends.
#  4. --zero takes 0 or 1 only.
source "$(dirname "$0")/common.sh"
work="$WORK-zero"
rm -rf "$work" && mkdir -p "$work"
"$ASLNET" synth --out "$work/synth" --per-class 8 --size 32 --seed 5 > /dev/null
common=(--device cpu --arch resnet18 --stem small --width 0.25 --image-size 24 --batch 32 --lr 0.01 --epochs 1
  --split random --val-fraction 0.2 --seed 9 --threads 2 --replicas 2 --quiet)

# 1. and 2. Stopped after three steps, with and without --zero 1 (fresh folders).
"$ASLNET" train "$work/synth" "${common[@]}" --stop-after 3 --out "$work/plain" > "$work/plain.out"
"$ASLNET" train "$work/synth" "${common[@]}" --stop-after 3 --zero 1 --out "$work/zero" > "$work/zero.out"
same_weights "$work/plain/last.safetensors" "$work/zero/last.safetensors"
grep -q '"zero": 1' "$work/zero/run.json" || { echo "run.json does not record --zero 1" >&2; exit 1; }
plain_line=$(grep '^optimizer state: ' "$work/plain.out")
zero_line=$(grep '^optimizer state: ' "$work/zero.out")
echo "--zero 0: $plain_line"
echo "--zero 1: $zero_line"
/usr/bin/python3 - "$plain_line" "$zero_line" <<'PY'
import re, sys
plain = float(re.match(r"optimizer state: ([0-9.]+) MB per replica \(whole on each of 2 replicas", sys.argv[1]).group(1))
m = re.match(r"optimizer state: ([0-9.]+) MB per replica \(sharded 1/2 of ([0-9.]+) MB\)", sys.argv[2])
mine, whole = float(m.group(1)), float(m.group(2))
assert whole == plain, (whole, plain)
assert abs(mine - whole / 2) <= 0.1, (mine, whole)
PY

# 3. Resumed to the end of the epoch: the --zero 1 checkpoint without it, the plain one with it, and the
# plain one plainly (the reference).
cp -r "$work/plain" "$work/plain-resumed"
cp -r "$work/plain" "$work/plain-resumed-zero"
cp -r "$work/zero" "$work/zero-resumed-plain"
"$ASLNET" train --resume "$work/plain-resumed/last.safetensors" --quiet > /dev/null
"$ASLNET" train --resume "$work/plain-resumed-zero/last.safetensors" --zero 1 --quiet > /dev/null
"$ASLNET" train --resume "$work/zero-resumed-plain/last.safetensors" --zero 0 --quiet > /dev/null
grep -q '"event":"done"' "$work/zero-resumed-plain/log.jsonl"
same_weights "$work/plain-resumed/last.safetensors" "$work/zero-resumed-plain/last.safetensors"
same_weights "$work/plain-resumed/last.safetensors" "$work/plain-resumed-zero/last.safetensors"

# 4. A value other than 0 or 1 is refused, naming the flag.
if "$ASLNET" train "$work/synth" "${common[@]}" --zero 2 --out "$work/bad" > "$work/bad.out" 2>&1; then
  echo "--zero 2 was accepted" >&2; exit 1
fi
grep -q -- '--zero' "$work/bad.out"
echo "zero: ok"
