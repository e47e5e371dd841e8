#!/usr/bin/env bash
# Data-parallel training from the command line, on the CPU:
#  1. With batch norm frozen, one replica, two in-process replicas (--replicas 2) and two MPI ranks
#     (mpirun -np 2) train to the same weights (1e-5 relative): each replica's shard of a step is
#     exactly its part of the single replica's batch, augmentation included.
#  2. A rank with bad input ends the whole job with its message, in seconds.
#  3. A rank that stops answering (SIGSTOP) is caught by the others' watchdog (--comm-timeout).
#  4. A rank that is killed ends the job.
#  5. --print-buckets: the lead alone prints the bucket table, and its rows cover the model's parameters;
#     --find-unused changes nothing for a ResNet (it has no unused parameter): the MPI ranks of 1 use it.
# Skips without mpirun (fails under ASLNET_REQUIRE_MPI=1).
source "$(dirname "$0")/common.sh"
if ! command -v mpirun > /dev/null || ! grep -q '^replication:.*mpi' <<< "$("$ASLNET" info)"; then
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
"$ASLNET" train "$work/synth" "${common[@]}" --epochs 1 --stop-after 3 --threads 2 --replicas 2 --print-buckets \
  --out "$work/threads" > "$work/threads.out"
"${MPIRUN[@]}" -np 2 "$ASLNET" train "$work/synth" "${common[@]}" --epochs 1 --stop-after 3 --threads 1 \
  --print-buckets --find-unused --bucket-mb 0.5 --out "$work/ranks" > "$work/ranks.out"
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

# 5. The bucket table, printed once (by the lead), against the checkpoint's parameters.
"$py" - "$work/one/last.safetensors" "$work/threads.out" "$work/ranks.out" <<'PY'
import json, re, struct, sys
raw = open(sys.argv[1], "rb").read()
header = json.loads(raw[8:8 + struct.unpack("<Q", raw[:8])[0]])
params = {k: v for k, v in header.items() if k != "__metadata__" and not k.startswith("optimizer.")
          and v["dtype"] == "F32" and not k.split(".")[-1].startswith("running_")}
numel = sum((v["data_offsets"][1] - v["data_offsets"][0]) // 4 for v in params.values())
for out in sys.argv[2:]:
    text = open(out).read().splitlines()
    starts = [i for i, line in enumerate(text) if line.startswith("gradient buckets: ")]
    assert len(starts) == 1, f"{out}: {len(starts)} bucket tables (the lead alone prints one)"
    count = int(re.match(r"gradient buckets: (\d+) ", text[starts[0]]).group(1))
    rows = [line.split() for line in text[starts[0] + 2:starts[0] + 2 + count]]
    assert [int(r[0]) for r in rows] == list(range(count)), f"{out}: rows {rows}"
    assert rows[0][3] == "fc.bias" and rows[-1][4] == "conv1.weight", f"{out}: {rows[0]} ... {rows[-1]}"
    assert sum(int(r[1]) for r in rows) == len(params), f"{out}: parameters {sum(int(r[1]) for r in rows)}"
    assert sum(int(r[2]) for r in rows) >= 4 * numel, f"{out}: bytes"
    assert all(len(r) == 6 and r[5] != "-" for r in rows), f"{out}: a bucket without its completing layer"
    print(f"{out.split('/')[-1]}: {count} buckets, {len(params)} parameters")
PY

# 2. Bad input on rank 1 only (MPMD): the job ends with rank 1's message.
set +e
out=$("${MPIRUN[@]}" -np 1 "$ASLNET" train "$work/synth" "${common[@]}" --epochs 50 --out "$work/bad" \
  : -np 1 "$ASLNET" train "$work/no-such-folder" "${common[@]}" --epochs 50 --out "$work/bad" 2>&1)
status=$?
set -e
echo "$out" | tail -n 3
[[ $status -ne 0 && $status -ne 124 ]] || { echo "bad input: status $status (124: hung)"; exit 1; }
grep -q "rank 1: .*no-such-folder" <<< "$out" || { echo "$out"; echo "bad input: no message naming rank 1's folder"; exit 1; }

# 3 and 4. A rank that stops answering, and one that is killed, once training runs.
rank1_pid() {  # the process of rank 1 under mpirun $1
  for pid in $(pgrep -P "$1"); do
    if grep -qx 'OMPI_COMM_WORLD_RANK=1' <<< "$(tr '\0' '\n' < "/proc/$pid/environ" 2>/dev/null)"; then echo "$pid"; return; fi
  done
}
for signal in STOP KILL; do
  log="$work/$signal.out"
  "${MPIRUN[@]}" -np 2 "$ASLNET" train "$work/synth" "${common[@]}" --epochs 500 --comm-timeout 5 --threads 1 \
    --out "$work/$signal" > "$log" 2>&1 &
  job=$!
  wait_for_first_step "$work/$signal" 40
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
