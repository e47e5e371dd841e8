#!/usr/bin/env bash
# aslnet bench allreduce on small sizes, so that the command does not rot:
#  1. CPU replicas on threads (--replicas 1,2): the JSON holds both counts, every size from 8 B to 64 KiB,
#     positive times, and algbw = bytes / time, busbw = algbw * 2(n-1)/n (nccl-tests' definitions).
#  2. Two MPI ranks (mpirun -np 2): one count of 2 ranks over the MPI communicator; skipped without
#     mpirun (fails under ASLNET_REQUIRE_MPI=1).
#  3. On a machine with a GPU: a GPU count beyond the machine's is reported as not run.
#  1b. --algorithm both (CPU): the ring beside the central sum and the cost model, in the output and the JSON.
source "$(dirname "$0")/common.sh"
py=/usr/bin/python3; [[ -x $py ]] || py=python3
work="$WORK-bench-allreduce"
rm -rf "$work" && mkdir -p "$work"

# Checks a --json file: $1 the file, $2 the rank counts expected (comma-separated), $3 the communicator.
check_json() {
  "$py" - "$@" <<'PY'
import json, sys
path, expected, communicator = sys.argv[1], [int(n) for n in sys.argv[2].split(",")], sys.argv[3]
doc = json.load(open(path))
for key in ("device", "date", "command", "copy_gbs", "counts"):
    assert key in doc, f"{path}: no {key}"
assert "bench allreduce" in doc["command"], doc["command"]
assert doc["copy_gbs"] > 0
counts = doc["counts"]
assert [c["ranks"] for c in counts] == expected, [c["ranks"] for c in counts]
sizes = [8 << i for i in range(14)]  # 8 B .. 64 KiB
for c in counts:
    n = c["ranks"]
    assert c["run"] and c["communicator"] == communicator, c
    assert [r["bytes"] for r in c["rows"]] == sizes, [r["bytes"] for r in c["rows"]]
    for r in c["rows"]:
        assert r["time_s"] > 0, r
        assert abs(r["algbw_gbs"] - r["bytes"] / r["time_s"] / 1e9) <= 1e-9 * r["algbw_gbs"], r
        assert abs(r["busbw_gbs"] - r["algbw_gbs"] * 2 * (n - 1) / n) <= 1e-9 * max(r["algbw_gbs"], 1e-30), r
    print(f"{path.split('/')[-1]}: {n} rank(s), {communicator}: {len(c['rows'])} sizes, "
          f"peak busbw {max(r['busbw_gbs'] for r in c['rows']):.3f} GB/s")
PY
}

# 1. CPU replicas on threads.
out=$("$ASLNET" bench allreduce --device cpu --replicas 1,2 --max-bytes 65536 --json "$work/threads.json")
grep -q '^== 2 ranks: in-process (cpu)' <<< "$out" || { echo "$out"; echo "no table for 2 replicas"; exit 1; }
[[ $(echo "$out" | grep -c '^result comm="in-process (cpu)"') == 2 ]] || { echo "$out"; echo "not two result lines"; exit 1; }
check_json "$work/threads.json" 1,2 "in-process (cpu)"

# 1b. --algorithm both: the central sum and the ring for each count, then one table per count of both
#     beside the cost model (alpha and W probed in the same run), and the JSON's rows carry the model.
out=$("$ASLNET" bench allreduce --device cpu --replicas 2,3 --algorithm both --max-bytes 65536 --iters 5 \
  --json "$work/both.json")
for n in 2 3; do
  grep -q "^== $n ranks: in-process (cpu)" <<< "$out" || { echo "$out"; echo "no central table for $n"; exit 1; }
  grep -q "^== $n ranks: in-process ring (cpu)" <<< "$out" || { echo "$out"; echo "no ring table for $n"; exit 1; }
  grep -q "^== ring vs central vs the cost model, $n ranks" <<< "$out" || { echo "$out"; echo "no comparison for $n"; exit 1; }
  grep -q "^compare ranks=$n ring_faster_from_bytes=" <<< "$out" || { echo "$out"; echo "no compare line for $n"; exit 1; }
done
# Each comparison table: a row per size, bytes then four positive times and their ratio.
"$py" - "$out" <<'PY'
import re, sys
tables = re.split(r"^== ring vs central vs the cost model, ", sys.argv[1], flags=re.M)[1:]
assert len(tables) == 2, len(tables)
for t in tables:
    rows = [l.split() for l in t.splitlines() if re.match(r"^\s+\d+\s", l)]
    assert [int(r[0]) for r in rows] == [8 << i for i in range(14)], rows
    for r in rows:
        central, central_model, ring, ring_model, ratio = map(float, r[1:6])
        assert min(central, central_model, ring, ring_model) > 0, r
        assert abs(ratio - ring / central) <= 0.01 + 0.01 * ratio, r
print(f"--algorithm both: {len(tables)} comparison tables of 14 sizes")
PY
"$py" - "$work/both.json" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
counts = doc["counts"]
assert [(c["ranks"], c["algorithm"]) for c in counts] == [(2, "central"), (2, "ring"), (3, "central"), (3, "ring")], counts
for c in counts:
    assert c["communicator"] == ("in-process ring (cpu)" if c["algorithm"] == "ring" else "in-process (cpu)"), c
    assert all(r["model_time_s"] > 0 and r["time_s"] > 0 for r in c["rows"]), c
model = doc["cost_model"]
assert set(model["alpha_us_by_ranks"]) == {"2", "3"} and all(v > 0 for v in model["alpha_us_by_ranks"].values()), model
assert all(v > 0 for v in model["copy_gbs_by_threads"].values()), model
print("both.json: central and ring per count, model times on every row, alpha and W recorded")
PY
# The default stays the central sum alone, without a model.
"$py" -c 'import json,sys; d=json.load(open(sys.argv[1])); assert "cost_model" not in d and all(c["algorithm"] == "central" for c in d["counts"]), d' "$work/threads.json"
# The ring is the in-process communicator's: refused elsewhere.
if err=$("$ASLNET" bench allreduce --device cuda --algorithm ring 2>&1); then echo "--algorithm ring on a GPU was accepted"; exit 1; fi
grep -q -- '--algorithm ring is for CPU replicas of one process' <<< "$err" || { echo "$err"; exit 1; }

# A wrong combination stops with a message naming the flag.
if err=$("$ASLNET" bench allreduce --device cpu --gpu-counts 2 2>&1); then echo "--gpu-counts on the CPU was accepted"; exit 1; fi
grep -q -- '--gpu-counts is for --device cuda' <<< "$err" || { echo "$err"; exit 1; }

# 3. A GPU count beyond the machine's: reported, not estimated (only where there is a GPU).
gpus=$("$ASLNET" info | sed -n 's/^cuda gpus: *//p')
if [[ ${gpus:-0} -gt 0 ]]; then
  "$ASLNET" bench allreduce --device cuda --gpu-counts 1,1024 --max-bytes 1024 --json "$work/gpu.json" > "$work/gpu.out"
  grep -q "1024 GPUs: not run (this machine has $gpus GPU" "$work/gpu.out" || { cat "$work/gpu.out"; exit 1; }
  "$py" -c 'import json,sys; c=json.load(open(sys.argv[1]))["counts"]; assert c[0]["run"] and not c[1]["run"], c' "$work/gpu.json"
  echo "cuda: a count beyond the machine's $gpus GPU(s) is reported as not run"
fi

# 2. One replica per process over MPI.
if ! command -v mpirun > /dev/null || ! grep -q '^replication:.*mpi' <<< "$("$ASLNET" info)"; then
  if [[ -n "${ASLNET_REQUIRE_MPI:-}" && "${ASLNET_REQUIRE_MPI}" != 0 ]]; then echo "no mpirun or no MPI build (and ASLNET_REQUIRE_MPI is set)" >&2; exit 1; fi
  echo "bench_allreduce: the MPI part is skipped: mpirun not found or aslnet built without MPI"
  exit 0
fi
timeout 120 mpirun --allow-run-as-root --oversubscribe -np 2 "$ASLNET" bench allreduce --device cpu --max-bytes 65536 \
  --json "$work/mpi.json" > "$work/mpi.out"
grep -q '^result comm="mpi" ranks=2' "$work/mpi.out" || { cat "$work/mpi.out"; echo "no MPI result line"; exit 1; }
check_json "$work/mpi.json" 2 mpi
