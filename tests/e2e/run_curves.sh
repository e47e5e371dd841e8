#!/usr/bin/env bash
# Runs users can manage (synthetic hands, no real data needed): OUT/metrics.csv holds one row per epoch,
# also after a --stop-after interruption and --resume (from the last checkpoint and from an earlier one:
# the interrupted run's later rows are dropped); `aslnet plot` draws two runs into one PNG and names bad
# input; --early-stop ends a run whose validation accuracy stays flat before --epochs, normally (exit 0,
# last.safetensors, a done record saying so), also with two replicas (threads, and MPI ranks where there
# is mpirun), and is refused without validation.
source "$(dirname "$0")/common.sh"
work="$WORK-run-curves"
rm -rf "$work" && mkdir -p "$work"
"$ASLNET" synth --out "$work/data" --per-class 8 --size 32 --seed 4 > /dev/null
# 29 classes x 6 training images = 174, batch 16: 10 steps an epoch.
tiny=(--device cpu --arch resnet18 --width 0.125 --image-size 32 --batch 16 --seed 3 --quiet
      --val-fraction 0.25 --split random)

# epochs(CSV, EXPECTED...): the file's header and exactly one row per expected epoch, in order.
epochs() {
  /usr/bin/python3 - "$@" <<'PY'
import csv, sys
path, want = sys.argv[1], [int(e) for e in sys.argv[2:]]
rows = list(csv.reader(open(path)))
header = rows[0]
for column in ["epoch", "train_loss", "train_acc", "val_loss", "val_acc", "ema_val_acc", "lr", "images_per_s",
               "epoch_s", "elapsed_s"]:
    assert column in header, (path, column, header)
got = [int(r[0]) for r in rows[1:]]
assert got == want, (path, got, want)
for r in rows[1:]:
    cell = dict(zip(header, r))
    assert all(cell[c] != "" for c in ["train_loss", "train_acc", "val_acc", "lr", "epoch_s", "elapsed_s"]), r
    assert cell["ema_val_acc"] == "", r  # no --ema
    assert 0 <= float(cell["val_acc"]) <= 1, r
elapsed = [float(dict(zip(header, r))["elapsed_s"]) for r in rows[1:]]
assert elapsed == sorted(elapsed), elapsed
PY
}

three=("${tiny[@]}" --threads 2 --lr 0.05 --epochs 3)
# A run of 3 epochs, straight through.
"$ASLNET" train "$work/data" "${three[@]}" --out "$work/a" > /dev/null
epochs "$work/a/metrics.csv" 1 2 3

# The same run interrupted twice and resumed: first at step 12 (epoch 1's checkpoint is kept aside), then
# at step 25 (rows 1 and 2 written); resumed from epoch 1's checkpoint, row 2 is written again, once.
"$ASLNET" train "$work/data" "${three[@]}" --out "$work/b" --stop-after 12 > /dev/null
epochs "$work/b/metrics.csv" 1
cp "$work/b/last.safetensors" "$work/b/epoch1.safetensors"
"$ASLNET" train "$work/data" "${three[@]}" --out "$work/b" --resume "$work/b/last.safetensors" \
    --stop-after 25 > /dev/null
epochs "$work/b/metrics.csv" 1 2
"$ASLNET" train "$work/data" "${three[@]}" --out "$work/b" --resume "$work/b/epoch1.safetensors" \
    --stop-after 0 > /dev/null
epochs "$work/b/metrics.csv" 1 2 3
echo "metrics.csv: one row per epoch, straight through and resumed"

# plot: two runs (a folder and a metrics.csv file) into one PNG of the requested size.
"$ASLNET" plot "$work/a" "$work/b/metrics.csv" --out "$work/curves.png" --width 1000 --height 1300 > "$work/plot.txt"
grep -q "wrote $work/curves.png: 2 runs, 3 and 3 epochs" "$work/plot.txt" || { cat "$work/plot.txt"; exit 1; }
/usr/bin/python3 - "$work/curves.png" <<'PY'
import struct, sys
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", data[:8]
width, height = struct.unpack(">II", data[16:24])
assert (width, height) == (1000, 1300), (width, height)
PY
# Bad input: one line naming the run or the file and line.
expect_error() {  # expect_error PATTERN COMMAND...
  local pattern=$1; shift
  if "$@" > /dev/null 2> "$work/err.txt"; then echo "accepted: $*" >&2; exit 1; fi
  [[ $(wc -l < "$work/err.txt") -eq 1 ]] && grep -q -- "$pattern" "$work/err.txt" || {
    echo "expected one line matching '$pattern' from: $*" >&2; cat "$work/err.txt" >&2; exit 1; }
}
mkdir -p "$work/not-a-run"
expect_error "not-a-run has no metrics.csv" "$ASLNET" plot "$work/not-a-run" --out "$work/x.png"
expect_error "nowhere: no such run folder" "$ASLNET" plot "$work/nowhere" --out "$work/x.png"
: > "$work/empty.csv"
expect_error "empty.csv is empty" "$ASLNET" plot "$work/empty.csv" --out "$work/x.png"
{ head -n 2 "$work/a/metrics.csv"; echo "2,broken"; } > "$work/broken.csv"
expect_error "broken.csv:3: 2 cells" "$ASLNET" plot "$work/broken.csv" --out "$work/x.png"
echo "plot: 2 runs drawn, bad input named"

# --early-stop 1 with a learning rate too small to change anything (and batch norm frozen, so its
# statistics stay put too): the validation accuracy is flat, so the run ends after epoch 2 of 5.
flat=(--lr 1e-9 --schedule constant --freeze-bn --epochs 5 --early-stop 1)
for replicas in 1 2; do
  out="$work/flat$replicas"
  "$ASLNET" train "$work/data" "${tiny[@]}" --threads 2 "${flat[@]}" --replicas "$replicas" --out "$out" > "$out.txt"
  grep -q "stopped early after epoch 2 of 5" "$out.txt" || { cat "$out.txt"; exit 1; }
  [[ -f "$out/last.safetensors" ]] || { echo "no last.safetensors after an early stop" >&2; exit 1; }
  epochs "$out/metrics.csv" 1 2
  /usr/bin/python3 - "$out/log.jsonl" <<'PY'
import json, sys
records = [json.loads(l) for l in open(sys.argv[1])]
done = [r for r in records if r["event"] == "done"]
assert len(done) == 1 and done[0]["stopped_early"] and done[0]["epoch"] == 2 and done[0]["best_epoch"] == 1, done
assert len([r for r in records if r["event"] == "epoch"]) == 2
PY
done
echo "--early-stop: stopped after epoch 2 of 5 (1 and 2 replicas)"
# Under mpirun, where there is one: both processes stop after the same epoch, and the job ends normally.
if command -v mpirun > /dev/null && grep -q '^replication:.*mpi' <<< "$("$ASLNET" info)"; then
  timeout 120 mpirun --allow-run-as-root --oversubscribe -np 2 "$ASLNET" train "$work/data" "${tiny[@]}" \
      --threads 1 "${flat[@]}" --out "$work/flat-mpi" > "$work/flat-mpi.txt"
  grep -q "stopped early after epoch 2 of 5" "$work/flat-mpi.txt" || { cat "$work/flat-mpi.txt"; exit 1; }
  epochs "$work/flat-mpi/metrics.csv" 1 2
  echo "--early-stop: stopped after epoch 2 of 5 (2 MPI ranks)"
fi
expect_error "--early-stop needs validation" "$ASLNET" train "$work/data" --width 0.125 --image-size 32 --quiet \
    --val-fraction 0 --early-stop 2 --epochs 2 --out "$work/refused"
echo "--early-stop without validation: refused"
