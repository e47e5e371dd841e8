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
# More bad command lines: each refused at once, naming the flag or file.
printf 'not a picture\n' > "$work/text.jpg"
: > "$work/empty.jpg"
head -c 5000 "$checkpoint" > "$work/truncated.safetensors"
cp "$work/data/A/A1.jpg" "$work/photo-as.safetensors"
touch "$work/a-file"
expect_failure "train a missing folder" "$work/none" "$ASLNET" train "$work/none" --out "$work/bad"
expect_failure "train --arch resnet99" "--arch" "${train[@]}" --arch resnet99
expect_failure "train --image-size 4" "--image-size" "${train[@]}" --image-size 4
expect_failure "train --epochs 0" "--epochs: expected a positive number, got 0" "${train[@]}" --epochs 0
expect_failure "train --log-every 0" "--log-every: expected a positive number, got 0" "${train[@]}" --log-every 0
expect_failure "serve --max-connections under --http-threads" "--max-connections (2) must be at least --http-threads" \
  "$ASLNET" serve --checkpoint "$checkpoint" --port 0 --http-threads 4 --max-connections 2
expect_failure "train --accum-steps 0" "--accum-steps: expected a positive number" "${train[@]}" --accum-steps 0
expect_failure "train --momentum nan" "--momentum: expected a number in [0, 0.999], got nan" "${train[@]}" \
  --momentum nan
expect_failure "train --schedule bogus" "--schedule" "${train[@]}" --schedule bogus
expect_failure "train --split bogus" "--split" "${train[@]}" --split bogus
expect_failure "train --mixup -1" "--mixup" "${train[@]}" --mixup -1
expect_failure "train --threads -1" "--threads" "${train[@]}" --threads -1
expect_failure "train --precision bf16 on the CPU" "bf16" "${train[@]}" --precision bf16
expect_failure "train --source-weight for two sources of one" "--source-weight" "${train[@]}" \
  --source-weight 1,2
expect_failure "train --val-dir missing" "$work/nowhere" "${train[@]}" --val-dir "$work/nowhere"
expect_failure "train --resume a missing checkpoint" "$work/missing.safetensors" "${train[@]}" \
  --resume "$work/missing.safetensors" --batch 8
expect_failure "train --resume a JPEG" "$work/photo-as.safetensors" "${train[@]}" \
  --resume "$work/photo-as.safetensors" --batch 8
expect_failure "train --init-from a truncated checkpoint" "$work/truncated.safetensors" "${train[@]}" \
  --init-from "$work/truncated.safetensors" --batch 8
expect_failure "train --out is a file" "--out $work/a-file: cannot make the folder (Not a directory)" "$ASLNET" train "$work/data" --epochs 1 --quiet \
  --val-fraction 0 --width 0.125 --image-size 32 --batch 8 --out "$work/a-file"
expect_failure "train --epoch (a typo)" "--epoch" "${train[@]}" --epoch 3
expect_failure "train --resume with another --width" "that run trained with --width 0.125" "${train[@]}" \
  --resume "$checkpoint" --batch 8 --width 0.25
expect_failure "train --resume with another --image-size" "that run trained with --image-size 32" \
  "${train[@]}" --resume "$checkpoint" --batch 8 --image-size 48
expect_failure "eval a truncated checkpoint" "$work/truncated.safetensors" "$ASLNET" eval \
  "$work/truncated.safetensors" "$work/data"
expect_failure "eval a JPEG as the checkpoint" "$work/photo-as.safetensors" "$ASLNET" eval \
  "$work/photo-as.safetensors" "$work/data"
expect_failure "eval --tta bogus" "--tta" "$ASLNET" eval "$checkpoint" "$work/data" --tta bogus
expect_failure "eval a missing checkpoint" "$work/missing.safetensors" "$ASLNET" eval \
  "$work/missing.safetensors" "$work/data"
expect_failure "predict a text file" "$work/text.jpg" "$ASLNET" predict "$checkpoint" "$work/text.jpg"
expect_failure "predict an empty file" "$work/empty.jpg" "$ASLNET" predict "$checkpoint" "$work/empty.jpg"
expect_failure "translate --min-confidence 2" "--min-confidence" "$ASLNET" translate --checkpoint "$checkpoint" \
  --min-confidence 2 "$work/data/A"
expect_failure "translate a missing folder" "$work/nowhere" "$ASLNET" translate --checkpoint "$checkpoint" \
  "$work/nowhere"
expect_failure "serve --port 70000" "--port" "$ASLNET" serve --checkpoint "$checkpoint" --port 70000
expect_failure "serve a missing checkpoint" "$work/missing.safetensors" "$ASLNET" serve \
  --checkpoint "$work/missing.safetensors" --port 0
expect_failure "synth into a data set" "--out" "$ASLNET" synth --out "$work/data" --per-class 1 --size 32
expect_failure "check-data a missing folder" "$work/nowhere" "$ASLNET" check-data "$work/nowhere"
mkfifo "$work/checkpoint.safetensors"
expect_failure "predict with a FIFO as the checkpoint" "it is a FIFO (named pipe), not a regular file" "$ASLNET" \
  predict "$work/checkpoint.safetensors" "$work/data/A/A1.jpg"
expect_failure "serve /dev/zero as the checkpoint" "/dev/zero: it is a device" "$ASLNET" serve --checkpoint /dev/zero \
  --port 0
expect_failure "eval a missing folder" "$work/nowhere" "$ASLNET" eval "$checkpoint" "$work/nowhere"
# Sizes that cannot fit, and data or checkpoints that describe something absurd.
expect_failure "train --width 1000 (a typo)" "--width: expected a positive number up to 16, got 1000" "${train[@]}" \
  --width 1000
if [[ -z ${ASAN_OPTIONS:-} ]]; then  # AddressSanitizer reserves far more address space than the limit
  expect_failure "train --width 15 beyond the memory" "has 2510946269 parameters, more than the memory of cpu holds" \
    bash -c 'ulimit -v 6000000 && exec "$@"' - "${train[@]}" --width 15 --batch 8 --image-size 32
fi
mkdir -p "$work/one/A" && cp "$work/data/A/"*.jpg "$work/one/A/"
expect_failure "train on one class" "the training data holds images of one class only (A)" "$ASLNET" train \
  "$work/one" --epochs 1 --batch 2 --quiet --out "$work/bad"
expect_failure "check-data on one class" "images of one class only (A)" "$ASLNET" check-data "$work/one"
mkdir -p "$work/layout/A" "$work/layout/photos" "$work/layout/misc" && cp "$work/data/A/"*.jpg "$work/layout/A/"
expect_failure "check-data lists every unknown folder (photos/)" "layout/photos names no ASL class" "$ASLNET" \
  check-data "$work/layout"
expect_failure "check-data lists every unknown folder (misc/)" "layout/misc names no ASL class" "$ASLNET" \
  check-data "$work/layout"
expect_failure "train --resume a finished run" "that run already finished 1 epochs; give --epochs above 1" \
  "$ASLNET" train "$work/data" --arch resnet18 --width 0.125 --image-size 32 --batch 8 --epochs 1 --quiet \
  --val-fraction 0 --resume "$checkpoint" --out "$work/bad"
# with_metadata KEY VALUE OUT: the checkpoint with one metadata value replaced.
with_metadata() {
  /usr/bin/python3 - "$checkpoint" "$@" <<'PY'
import json, struct, sys
source, key, value, out = sys.argv[1:]
with open(source, "rb") as f:
    n = struct.unpack("<Q", f.read(8))[0]
    header = json.loads(f.read(n))
    data = f.read()
header["__metadata__"][key] = value
text = json.dumps(header).encode()
text += b" " * ((8 - len(text) % 8) % 8)
with open(out, "wb") as f:
    f.write(struct.pack("<Q", len(text)) + text + data)
PY
}
with_metadata width 1000 "$work/wide.safetensors"
expect_failure "predict a checkpoint of width 1000" "metadata 'width' is 1000, outside (0, 16]" "$ASLNET" predict \
  "$work/wide.safetensors" "$work/data/A/A1.jpg"
with_metadata num_classes 1000000000 "$work/classes.safetensors"
expect_failure "serve a checkpoint of 10^9 classes" "metadata 'num_classes' is 1000000000" "$ASLNET" serve \
  --checkpoint "$work/classes.safetensors" --port 0
with_metadata input_height 1000000 "$work/side.safetensors"
expect_failure "eval a checkpoint of 10^6 px" "metadata 'input_height' is 1000000" "$ASLNET" eval \
  "$work/side.safetensors" "$work/data"
expect_failure "bench kernels --iters 0" "--iters: expected a number in [1, 100000], got 0" "$ASLNET" bench kernels \
  --iters 0
expect_failure "bench serve --clients nan" "--clients: expected a number in [1, 1024], got nan" "$ASLNET" bench \
  serve --checkpoint "$checkpoint" --clients nan
# A kill -9 during a checkpoint write left last.safetensors.tmp.<pid>: the next write of it removes it.
cases=$((cases + 1))
sleep 0 & dead=$!
wait "$dead"
cp "$checkpoint" "$work/run/last.safetensors.tmp.$dead"
"$ASLNET" train "$work/data" --arch resnet18 --width 0.125 --image-size 32 --batch 8 --epochs 2 --quiet \
  --val-fraction 0 --threads 2 --resume "$checkpoint" --out "$work/run" > /dev/null
if [[ -e "$work/run/last.safetensors.tmp.$dead" ]]; then
  echo "BAD  a dead writer's last.safetensors.tmp.$dead was left in place"; failures=$((failures + 1))
else
  echo "GOOD a dead writer's last.safetensors.tmp.<pid> is removed by the next write"
fi
# A run stopped by SIGTERM (a scheduler's way) or Ctrl-C writes last.safetensors to resume from, and
# its status says it did not finish: 128 + the signal.
for signal in TERM INT; do
  cases=$((cases + 1))
  rm -rf "$work/killed"
  "$ASLNET" train "$work/data" --arch resnet18 --width 0.125 --image-size 32 --batch 8 --epochs 1000 \
    --val-fraction 0 --threads 2 --quiet --log-every 1 --out "$work/killed" > "$work/killed.out" 2>&1 &
  pid=$!
  wait_for_first_step "$work/killed" 30
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
