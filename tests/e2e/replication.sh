#!/usr/bin/env bash
# Data-parallel training from the command line, on the CPU:
#  1. With batch norm frozen, one replica, two in-process replicas (--replicas 2) and two MPI ranks
#     (mpirun -np 2) train to the same weights (1e-5 relative): each replica's shard of a step is
#     exactly its part of the single replica's batch, augmentation included.
#  2. A rank with bad input ends the whole job with its message, in seconds.
#  3. A rank that stops answering (SIGSTOP) is caught by the others' watchdog (--comm-timeout).
#  4. A rank that is killed ends the job.
# Skips without mpirun (fails under ASLNET_REQUIRE_MPI=1).
source "$(dirname "$0")/common.sh"
if ! command -v mpirun > /dev/null || ! "$ASLNET" info | grep -q '^replication:.*mpi'; then
  if [[ -n "${ASLNET_REQUIRE_MPI:-}" && "${ASLNET_REQUIRE_MPI}" != 0 ]]; then echo "no mpirun or no MPI build (and ASLNET_REQUIRE_MPI is set)" >&2; exit 1; fi
  echo "skipped: replication: mpirun not found or aslnet built without MPI"; exit 77
fi
py=/usr/bin/python3; [[ -x $py ]] || py=python3
MPIRUN=(timeout 120 mpirun --allow-run-as-root --oversubscribe)
work="$WORK-replication"
rm -rf "$work" && mkdir -p "$work"
"$ASLNET" synth --out "$work/synth" --per-class 16 --size 32 --seed 5 > /dev/null
# Three steps at a small learning rate (--stop-after, which all replicas agree on): early in training the
# gradient is a sum of nearly cancelling terms, so rounding alone (one replica on 1 or on 2 threads)
# moves it by about 1e-3 relative, and later steps amplify that. After three steps the weights of a
# correct run agree to about 1e-6; a replica on the wrong images would be off by about 1e-3.
common=(--device cpu --arch resnet18 --stem small --width 0.25 --image-size 24 --batch 64 --lr 0.01 --freeze-bn
  --split random --val-fraction 0.2 --seed 9 --quiet)

# 1. Same weights three ways.
"$ASLNET" train "$work/synth" "${common[@]}" --epochs 1 --stop-after 3 --threads 2 --out "$work/one"
"$ASLNET" train "$work/synth" "${common[@]}" --epochs 1 --stop-after 3 --threads 2 --replicas 2 --out "$work/threads"
"${MPIRUN[@]}" -np 2 "$ASLNET" train "$work/synth" "${common[@]}" --epochs 1 --stop-after 3 --threads 1 --out "$work/ranks"
"$py" - "$work/one/last.safetensors" "$work/threads/last.safetensors" "$work/ranks/last.safetensors" <<'PY'
import json, math, struct, sys
def load(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    out = {}
    for name, t in header.items():
        # The model's weights (the optimizer's state is the ill-conditioned gradient sum itself).
        if name == "__metadata__" or t["dtype"] != "F32" or name.startswith("optimizer."):
            continue
        a, b = t["data_offsets"]
        out[name] = struct.unpack(f"<{(b - a) // 4}f", raw[8 + n + a:8 + n + b])
    return out
ref = load(sys.argv[1])
for other in sys.argv[2:]:
    w = load(other)
    assert w.keys() == ref.keys()
    num = sum((x - y) ** 2 for k in ref for x, y in zip(w[k], ref[k]))
    den = sum(y * y for k in ref for y in ref[k])
    err = math.sqrt(num / den)
    print(f"{other.split('/')[-2]}: relative error {err:.2e} against one replica")
    assert err <= 1e-5, f"{other} differs from the single replica: {err}"
PY
grep -q '"replicas":2' "$work/ranks/log.jsonl"
grep -q '"event":"interrupted","step":3' "$work/ranks/log.jsonl"

# 2. Bad input on rank 1 only (MPMD): the job ends with rank 1's message.
set +e
out=$("${MPIRUN[@]}" -np 1 "$ASLNET" train "$work/synth" "${common[@]}" --epochs 50 --out "$work/bad" \
  : -np 1 "$ASLNET" train "$work/no-such-folder" "${common[@]}" --epochs 50 --out "$work/bad" 2>&1)
status=$?
set -e
echo "$out" | tail -n 3
[[ $status -ne 0 && $status -ne 124 ]] || { echo "bad input: status $status (124: hung)"; exit 1; }
echo "$out" | grep -q "rank 1: .*no-such-folder" || { echo "$out"; echo "bad input: no message naming rank 1's folder"; exit 1; }

# 3 and 4. A rank that stops answering, and one that is killed, once training runs.
rank1_pid() {  # the process of rank 1 under mpirun $1
  for pid in $(pgrep -P "$1"); do
    if tr '\0' '\n' < "/proc/$pid/environ" 2>/dev/null | grep -qx 'OMPI_COMM_WORLD_RANK=1'; then echo "$pid"; return; fi
  done
}
for signal in STOP KILL; do
  log="$work/$signal.out"
  "${MPIRUN[@]}" -np 2 "$ASLNET" train "$work/synth" "${common[@]}" --epochs 500 --comm-timeout 5 --threads 1 \
    --out "$work/$signal" > "$log" 2>&1 &
  job=$!
  for _ in $(seq 1 200); do
    grep -q '"event":"step"' "$work/$signal/log.jsonl" 2>/dev/null && break
    sleep 0.2
  done
  mpirun_pid=$(pgrep -P "$job" mpirun || echo "$job")
  victim=$(rank1_pid "$mpirun_pid")
  [[ -n "$victim" ]] || { cat "$log"; echo "$signal: rank 1 not found"; kill "$job" || true; exit 1; }
  start=$(date +%s)
  kill -"$signal" "$victim"
  set +e
  wait "$job"
  status=$?
  set -e
  kill -KILL "$victim" 2> /dev/null || true
  took=$(($(date +%s) - start))
  tail -n 3 "$log"
  [[ $status -ne 0 && $status -ne 124 ]] || { echo "$signal: status $status (124: hung)"; exit 1; }
  ((took < 60)) || { echo "$signal: the job took $took s to stop"; exit 1; }
  if [[ $signal == STOP ]]; then
    grep -q "rank 0: .*waited 5 s for the other ranks" "$log" || { echo "STOP: no watchdog message"; exit 1; }
  fi
  echo "$signal of rank 1: the job stopped in $took s"
done
