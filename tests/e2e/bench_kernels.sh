#!/usr/bin/env bash
# aslnet bench kernels on the CPU, at sizes CI can afford: a ResNet-18 and a ResNet-50 at a fraction of
# their width. The JSON must hold conv, batch-norm and linear rows with positive times and rates, flop
# counts that follow the rule (backward = 2x forward, 1x for the first layer, which needs no input
# gradient), and row counts that add up to the network's layers, each layer in exactly one row; with the
# fast CPU kernels, every convolution row is timed on the reference too. Bad flags stop with a one-line
# error.
source "$(dirname "$0")/common.sh"
work="$WORK-bench-kernels"
rm -rf "$work" && mkdir -p "$work"

# check_json FILE CONVS NORMS LINEARS
check_json() {
  /usr/bin/python3 - "$@" <<'EOF'
import json, sys
path, want = sys.argv[1], {"conv": int(sys.argv[2]), "batchnorm": int(sys.argv[3]), "linear": int(sys.argv[4])}
doc = json.load(open(path))
for key in ("command", "date", "device", "config", "peaks", "rows", "totals"):
    assert key in doc, f"no '{key}' in {path}"
peaks = doc["peaks"]
assert peaks["fp32_tflops"] > 0 and peaks["copy_gbs"] > 0, f"peaks not measured: {peaks}"
counts = {op: 0 for op in want}
names = []
for row in doc["rows"]:
    op = row["op"]
    assert op in want, f"unexpected op {op}"
    assert row["count"] == len(row["layers"]) >= 1, row
    counts[op] += row["count"]
    names += row["layers"]
    assert row["fwd_ms"] > 0 and row["bwd_ms"] > 0, f"non-positive time: {row}"
    unit = "gbs" if op == "batchnorm" else "tflops"
    assert row[f"fwd_{unit}"] > 0 and row[f"bwd_{unit}"] > 0 and row["fwd_peak_pct"] > 0, row
    # The fast CPU kernels (oneDNN builds) are timed against the reference on every convolution.
    if op == "conv" and doc["config"]["cpu_kernels"] == "fast":
        assert row["reference_fwd_ms"] > 0 and row["reference_bwd_ms"] > 0 and row["onednn"], row
    if op != "batchnorm":
        factor = 2 if row["needs_input_grad"] else 1
        assert abs(row["bwd_flops"] - factor * row["fwd_flops"]) < 1e-6 * row["fwd_flops"], row
assert counts == want, f"layer counts {counts}, expected {want}"
assert len(names) == len(set(names)), "a layer appears in two rows"
first = doc["rows"][0]
assert first["layers"] == ["conv1"] and not first["needs_input_grad"], f"first row: {first}"
print(f"{path}: {len(doc['rows'])} rows, {counts}")
EOF
}

"$ASLNET" bench kernels --device cpu --arch resnet18 --width 0.125 --batch 2 --image-size 32 --iters 2 \
  --json "$work/resnet18.json" > "$work/resnet18.txt"
check_json "$work/resnet18.json" 20 20 1
grep -q "all 20 conv, 20 batchnorm, 1 linear layers" "$work/resnet18.txt"

"$ASLNET" bench kernels --device cpu --arch resnet50 --width 0.0625 --batch 2 --image-size 32 --iters 1 \
  --warmup 1 --json "$work/resnet50.json" > "$work/resnet50.txt"
check_json "$work/resnet50.json" 53 53 1

if "$ASLNET" bench kernels --device cpu --precision bf16 2> "$work/err.txt"; then
  echo "bench kernels accepted bf16 on the CPU" >&2
  exit 1
fi
[[ $(wc -l < "$work/err.txt") == 1 ]] && grep -q "bf16" "$work/err.txt"
echo "bench kernels: ok"
