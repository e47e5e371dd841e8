#!/usr/bin/env bash
# Reference solution of exercise 1: the bucket-size sweep (see exercises/bucket_sweep.sh for the task).
# Small settings (width 0.25, 32 px) so that it runs in seconds on two cores; pass more steps and
# rounds through REPLICATION_STEP_ARGS for steadier figures.
set -euo pipefail
bench=${1:?usage: $0 PATH/TO/bench/replication_step}
args=(--replicas 2 --width 0.25 --size 32 --batch 16 --steps 4 --warmup 1 --rounds 2)
read -r -a extra <<< "${REPLICATION_STEP_ARGS:-}"
printf '%9s %8s %13s %11s %10s %11s\n' bucket_mb buckets t_compute_ms t_total_ms t_comm_ms hidden_pct
for mb in 0.01 0.05 0.2 0.5 1 5 25; do
  out=$("$bench" "${args[@]}" "${extra[@]}" --bucket-mb "$mb")
  buckets=$(sed -n 's/.* in \([0-9]*\) bucket(s).*/\1/p' <<< "$out")
  result=$(grep '^result ' <<< "$out")
  field() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p" <<< "$result"; }
  printf '%9s %8s %13s %11s %10s %11.0f\n' "$mb" "$buckets" "$(field t_compute_ms)" "$(field t_total_ms)" \
    "$(field t_comm_ms)" "$(awk -v h="$(field hidden)" 'BEGIN { print 100 * h }')"
done
