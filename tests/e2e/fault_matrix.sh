#!/usr/bin/env bash
# Bad input on the command line, as a careless user types it: each case must fail at once (no hang, no
# training) with a non-zero status and a short message that names the flag or file. On synthetic
# images, so that it runs without the real data. (The server's faults: serve_faults.sh; unreadable
# photos in evaluation: eval_faults.sh; resuming: resume_best.sh.)
source "$(dirname "$0")/common.sh"
work="$WORK/fault_matrix"
rm -rf "$work" && mkdir -p "$work"
"$ASLNET" synth --out "$work/data" --per-class 2 --size 32 --seed 9 > /dev/null
"$ASLNET" train "$work/data" --arch resnet18 --width 0.125 --image-size 32 --batch 8 --epochs 1 --quiet \
  --val-fraction 0 --threads 2 --out "$work/run" > /dev/null
checkpoint="$work/run/last.safetensors"
mkfifo "$work/photo.jpg"

failures=0 cases=0
# expect_failure NAME EXPECTED-TEXT COMMAND...: fails within 20 s, says EXPECTED-TEXT, one line before the hint.
expect_failure() {
  local name=$1 expected=$2
  shift 2
  cases=$((cases + 1))
  local status=0
  timeout 20 "$@" > "$work/out.txt" 2> "$work/err.txt" || status=$?
  local said
  said=$(cat "$work/out.txt" "$work/err.txt")
  if [[ $status -eq 0 || $status -eq 124 ]]; then
    echo "BAD  $name: status $status (expected a quick failure)"; failures=$((failures + 1))
  elif ! grep -qF -- "$expected" <<< "$said"; then
    echo "BAD  $name: the message does not say '$expected': $said"; failures=$((failures + 1))
  elif grep -qE '\.(cpp|h):[0-9]+\)' <<< "$said"; then
    echo "BAD  $name: the message shows the source line (that is for --verbose): $said"; failures=$((failures + 1))
  else
    echo "GOOD $name: $(head -n 1 <<< "$said")"
  fi
}
train=("$ASLNET" train "$work/data" --epochs 1 --quiet --out "$work/bad")
expect_failure "train --lr nan" "--lr: expected a positive number, got nan" "${train[@]}" --lr nan
expect_failure "train --lr inf" "--lr: expected a positive number, got inf" "${train[@]}" --lr inf
expect_failure "train --batch 0" "--batch: expected a positive number, got 0" "${train[@]}" --batch 0
expect_failure "train --val-fraction -0.5" "--val-fraction: expected a number in [0, 0.99], got -0.5" \
  "${train[@]}" --val-fraction -0.5
expect_failure "train --weight-decay nan" "--weight-decay: expected a number >= 0, got nan" "${train[@]}" \
  --weight-decay nan
expect_failure "train --label-smoothing 1.5" "--label-smoothing: expected a number in [0, 0.99]" "${train[@]}" \
  --label-smoothing 1.5
expect_failure "train --resume with --init-from" "--resume and --init-from exclude each other" "${train[@]}" \
  --resume "$checkpoint" --init-from "$checkpoint"
expect_failure "train --batch not divisible by replicas" "--batch 9 is the global batch" "${train[@]}" \
  --batch 9 --replicas 2
expect_failure "predict a FIFO" "is a FIFO (named pipe), not a regular file" "$ASLNET" predict "$checkpoint" \
  "$work/photo.jpg"
expect_failure "predict /dev/zero" "/dev/zero: is a device, not a regular file" "$ASLNET" predict "$checkpoint" \
  /dev/zero
expect_failure "predict a missing photo" "missing.jpg" "$ASLNET" predict "$checkpoint" "$work/missing.jpg"
mkfifo "$work/checkpoint.safetensors"
expect_failure "predict with a FIFO as the checkpoint" "it is a FIFO (named pipe), not a regular file" "$ASLNET" \
  predict "$work/checkpoint.safetensors" "$work/data/A/A1.jpg"
expect_failure "serve /dev/zero as the checkpoint" "/dev/zero: it is a device" "$ASLNET" serve --checkpoint /dev/zero \
  --port 0
expect_failure "eval a missing folder" "$work/nowhere" "$ASLNET" eval "$checkpoint" "$work/nowhere"
# A run stopped by SIGTERM (a scheduler's way) or Ctrl-C writes last.safetensors to resume from, and
# its status says it did not finish: 128 + the signal.
for signal in TERM INT; do
  cases=$((cases + 1))
  rm -rf "$work/killed"
  "$ASLNET" train "$work/data" --arch resnet18 --width 0.125 --image-size 32 --batch 8 --epochs 1000 \
    --val-fraction 0 --threads 2 --quiet --log-every 1 --out "$work/killed" > "$work/killed.out" 2>&1 &
  pid=$!
  for _ in $(seq 1 300); do grep -qs '"event":"step"' "$work/killed/log.jsonl" && break; sleep 0.1; done
  kill -s "$signal" "$pid"
  status=0
  wait "$pid" || status=$?
  expected=$((128 + $(kill -l "$signal")))
  if [[ $status -eq $expected && -f "$work/killed/last.safetensors" ]] &&
     "$ASLNET" eval "$work/killed/last.safetensors" "$work/data" > /dev/null; then
    echo "GOOD train stopped by SIG$signal: status $status, last.safetensors written and readable"
  else
    echo "BAD  train stopped by SIG$signal: status $status (expected $expected), last.safetensors: \
$(ls "$work/killed" 2> /dev/null | tr '\n' ' ')"
    failures=$((failures + 1))
  fi
done
echo "$((cases - failures)) of $cases cases GOOD"
[[ $failures -eq 0 ]]
