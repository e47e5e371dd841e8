#!/usr/bin/env bash
# aslnet train --allreduce ring (the in-process communicator's ring, engine/replication/in_process_ring.h)
# from the command line, on the CPU:
#  1. Two replicas (--replicas 2) with the ring end with the same weights as with the central sum, bit
#     for bit: with two replicas the ring sums every value as a + b, the central sum as a + b too.
#  2. run.json records the choice ("allreduce": "ring"), and the default is recorded as central.
#  3. It may change on --resume: the ring run continues with --allreduce central.
#  4. It is refused, in one line, where another communicator all-reduces (one rank under mpirun; skipped
#     without mpirun).
source "$(dirname "$0")/common.sh"
work="$WORK-allreduce-ring"
rm -rf "$work" && mkdir -p "$work"
"$ASLNET" synth --out "$work/synth" --per-class 8 --size 32 --seed 5 > /dev/null
common=(--device cpu --arch resnet18 --stem small --width 0.25 --image-size 24 --batch 32 --lr 0.01 --freeze-bn
  --split random --val-fraction 0.2 --seed 9 --quiet --threads 2 --replicas 2 --epochs 1)

# 1. The same weights, central and ring; a fresh --out each.
"$ASLNET" train "$work/synth" "${common[@]}" --stop-after 3 --out "$work/central"
"$ASLNET" train "$work/synth" "${common[@]}" --stop-after 3 --allreduce ring --out "$work/ring"
same_weights "$work/central/last.safetensors" "$work/ring/last.safetensors"
echo "--replicas 2: --allreduce ring and central end with the same weights, bit for bit"

# 2. Recorded in run.json.
[[ $(json_field "$work/ring/run.json" '["options"]["allreduce"]') == ring ]] || { cat "$work/ring/run.json"; exit 1; }
[[ $(json_field "$work/central/run.json" '["options"]["allreduce"]') == central ]] || { cat "$work/central/run.json"; exit 1; }

# 3. A ring run resumed with the central sum: accepted (it changes how the sum is taken, not what).
"$ASLNET" train "$work/synth" "${common[@]}" --allreduce ring --out "$work/resumed"
"$ASLNET" train --resume "$work/resumed/last.safetensors" --epochs 2 --allreduce central --quiet
[[ $(json_field "$work/resumed/run.json" '["options"]["allreduce"]') == central ]] || { cat "$work/resumed/run.json"; exit 1; }
echo "--resume: a ring run continues with --allreduce central"

# 4. Refused where it does not apply: one MPI rank per process.
if command -v mpirun > /dev/null && grep -q '^replication:.*mpi' <<< "$("$ASLNET" info)"; then
  if err=$(timeout 120 mpirun --allow-run-as-root --oversubscribe -np 2 "$ASLNET" train "$work/synth" --device cpu \
    --arch resnet18 --stem small --width 0.25 --image-size 24 --batch 32 --epochs 1 --quiet --allreduce ring \
    --out "$work/mpi" 2>&1); then
    echo "--allreduce ring under mpirun was accepted"; exit 1
  fi
  grep -q -- '--allreduce ring applies to the replicas of one process' <<< "$err" || { echo "$err"; exit 1; }
  echo "mpirun: --allreduce ring refused with one line"
else
  echo "allreduce_ring: the MPI part is skipped: mpirun not found or aslnet built without MPI"
fi
