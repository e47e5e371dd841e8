#!/usr/bin/env bash
# Checks exercise 1's table (exercises/bucket_sweep.sh, or the reference solution): a header and a row per
# bucket size, sizes growing, bucket counts never growing with them, times positive, hidden in [0, 100].
# Exit 77 (skipped) while the exercise is not attempted.
set -uo pipefail
script=$1 bench=$2
out=$("$script" "$bench")
status=$?
((status == 77)) && exit 77
((status == 0)) || { echo "$script exited with $status"; exit 1; }
echo "$out"
/usr/bin/python3 - <<PY
import sys
lines = """$out""".strip().splitlines()
header = lines[0].split()
expected = ["bucket_mb", "buckets", "t_compute_ms", "t_total_ms", "t_comm_ms", "hidden_pct"]
if header != expected:
    sys.exit(f"header {header}, expected {expected}")
rows = [[float(v) for v in line.split()] for line in lines[1:]]
if len(rows) < 4:
    sys.exit(f"{len(rows)} rows: sweep at least four bucket sizes")
for before, after in zip(rows, rows[1:]):
    if not after[0] > before[0]:
        sys.exit(f"bucket sizes must grow down the table: {before[0]} then {after[0]}")
    if after[1] > before[1]:
        sys.exit(f"{after[0]} MiB gives more buckets ({after[1]:g}) than {before[0]} MiB ({before[1]:g})")
for row in rows:
    if not all(v > 0 for v in row[1:5]) or not 0 <= row[5] <= 100:
        sys.exit(f"implausible row {row}")
print(f"bucket sweep: {len(rows)} sizes, {rows[0][1]:g} buckets down to {rows[-1][1]:g}")
PY
