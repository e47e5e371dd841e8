#!/usr/bin/env bash
# --sync-bn from the command line, on the CPU (no MPI needed: replicas on threads):
#  1. With training-mode batch norm, two replicas with --sync-bn train to the weights and running
#     statistics of one replica on the same global batch (1e-5 relative, as e2e.replication), while
#     two replicas without it (each normalising its own shard) measurably do not (so the check can fail).
#  2. One replica with --sync-bn is the plain run, bit for bit (there is nothing to synchronise).
#  3. run.json records the flag (true or false), so that --config run.json and --resume replay it.
source "$(dirname "$0")/common.sh"
py=/usr/bin/python3; [[ -x $py ]] || py=python3
work="$WORK-sync-bn"
rm -rf "$work" && mkdir -p "$work"
"$ASLNET" synth --out "$work/synth" --per-class 16 --size 32 --seed 5 > /dev/null
# As e2e.replication: three steps at a small learning rate (later steps amplify rounding), augmentation
# on (each replica's shard is exactly its part of the single replica's batch), but batch norm trains.
# The reference CPU kernels: oneDNN's convolutions block a batch of 32 differently from one of 64, and
# training-mode batch norm amplifies those last-bit differences past 1e-5 in three steps (1.4e-5);
# what this test checks is the synchronisation, not the convolutions.
common=(--device cpu --cpu-kernels reference --arch resnet18 --stem small --width 0.25 --image-size 24 --batch 64
  --lr 0.01 --split random --val-fraction 0.2 --seed 9 --quiet --epochs 1 --stop-after 3 --threads 2)

"$ASLNET" train "$work/synth" "${common[@]}" --out "$work/one"
"$ASLNET" train "$work/synth" "${common[@]}" --sync-bn --out "$work/one-sync"
"$ASLNET" train "$work/synth" "${common[@]}" --replicas 2 --sync-bn --out "$work/synced"
"$ASLNET" train "$work/synth" "${common[@]}" --replicas 2 --out "$work/plain"

# 2. One replica: --sync-bn changes nothing.
same_weights "$work/one/last.safetensors" "$work/one-sync/last.safetensors"

# 1. The model's tensors (weights and running statistics; not the optimizer's state) against one replica.
"$py" - "$work/one/last.safetensors" "$work/synced/last.safetensors" "$work/plain/last.safetensors" <<'PY'
import json, math, struct, sys
def load(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    out = {}
    for name, t in header.items():
        if name == "__metadata__" or t["dtype"] != "F32" or name.startswith("optimizer."):
            continue
        a, b = t["data_offsets"]
        out[name] = struct.unpack(f"<{(b - a) // 4}f", raw[8 + n + a:8 + n + b])
    return out
def error(w, ref, keep):
    keys = [k for k in ref if keep(k)]
    num = sum((x - y) ** 2 for k in keys for x, y in zip(w[k], ref[k]))
    den = sum(y * y for k in keys for y in ref[k])
    return math.sqrt(num / den)
ref, synced, plain = (load(p) for p in sys.argv[1:4])
assert synced.keys() == ref.keys() == plain.keys()
running = lambda k: ".running_" in k
weights = lambda k: not running(k)
assert any(running(k) for k in ref), "no running statistics in the checkpoint"
for what, keep in (("weights", weights), ("running statistics", running)):
    e_sync, e_plain = error(synced, ref, keep), error(plain, ref, keep)
    print(f"{what}: 2 replicas --sync-bn {e_sync:.2e}, without {e_plain:.2e} (relative, against one replica)")
    assert e_sync <= 1e-5, f"--sync-bn {what} differ from one replica's: {e_sync}"
    assert e_plain > 1e-4, f"without --sync-bn the {what} match one replica's ({e_plain}): the check cannot fail"
PY

# 3. The record of the run.
[[ $(json_field "$work/synced/run.json" '["options"]["sync-bn"]') == True ]] || { echo "run.json: sync-bn not true"; exit 1; }
[[ $(json_field "$work/plain/run.json" '["options"]["sync-bn"]') == False ]] || { echo "run.json: sync-bn not false"; exit 1; }
grep -q '"replicas":2' "$work/synced/log.jsonl"
echo "sync-bn: ok"
