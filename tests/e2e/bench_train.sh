#!/usr/bin/env bash
# aslnet bench train on the CPU, small: replica counts 1 and 2 run in one process (single mode) and
# under mpirun (multi mode, skipped without mpirun), a count beyond the machine's cores is reported as
# not run, the scaling model predicts the counts that divide the batch (its link figures labelled as
# assumptions), and the JSON, Markdown table and PNG chart are written. Keeps the command from rotting.
source "$(dirname "$0")/common.sh"
py=/usr/bin/python3; [[ -x $py ]] || py=python3
work="$WORK-bench-train"
rm -rf "$work" && mkdir -p "$work"
"$ASLNET" synth --out "$work/synth" --per-class 12 --size 32 --seed 4 > /dev/null
cores=$(nproc)
small=(--device cpu --arch resnet18 --width 0.125 --image-size 24 --epochs 2 --batch 32)
modes=(single)
command -v mpirun > /dev/null && modes+=(multi)
for mode in "${modes[@]}"; do
  "$ASLNET" bench train "$work/synth" "${small[@]}" --mode "$mode" --gpu-counts "1,2,$((cores * 2))" \
    --out "$work/$mode" > "$work/$mode.txt"
  for f in bench-train.json bench-train.md bench-train.png; do [[ -s $work/$mode/$f ]] || { echo "$mode: no $f"; exit 1; }; done
  "$py" - "$work/$mode/bench-train.json" "$mode" "$((cores * 2))" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
rows = {row["count"]: row for row in r["aslnet"]}
for n in (1, 2):
    assert rows[n]["ran"], rows[n]
    assert rows[n]["images_per_second"] > 0 and rows[n]["total_seconds"] > 0, rows[n]
    assert 0 <= rows[n]["val_accuracy"] <= 1, rows[n]
assert abs(rows[1]["scaling_efficiency"] - 1) < 1e-9
model = {row["gpus"]: row for row in r["model"]["rows"]}
assert set(model) == {1, 2, 4, 8, 16, 32}, model.keys()  # the counts that divide the batch of 32
assert all(row["step_seconds"] > 0 and row["per_gpu_batch"] * row["gpus"] == 32 for row in model.values())
assert "assumed" in r["model"]["intra_node"]["busbw_source"]
too_many = rows[int(sys.argv[3])]
assert not too_many["ran"] and too_many["why_not"].startswith("not run"), too_many
print(f"{sys.argv[2]}: {rows[1]['images_per_second']:.0f} img/s on 1 replica, {rows[2]['images_per_second']:.0f} on 2; "
      f"{sys.argv[3]} replicas: {too_many['why_not']}")
PY
  head -c 8 "$work/$mode/bench-train.png" | od -c | head -1 | grep -q 'P   N   G' || { echo "$mode: not a PNG"; exit 1; }
done
# Bad input: a count list that is not one.
if "$ASLNET" bench train "$work/synth" "${small[@]}" --gpu-counts 1,x --out "$work/bad" 2> "$work/bad.txt"; then
  echo "--gpu-counts 1,x was accepted"; exit 1
fi
grep -q -- "--gpu-counts 1,x" "$work/bad.txt"
