#!/usr/bin/env bash
# aslnet serve under a bounded load on loopback, through `aslnet bench serve`: the fixture's checkpoint
# served in-process twice (batching across requests, then --no-batching), each time 200 POST /predict
# of real photos from 8 concurrent keep-alive clients after 16 warm-up requests. No request may fail in
# either mode; batching must actually batch (a mean batch above 1: with 8 requests in flight and the
# model busy, images wait together); latencies must be ordered and throughput positive. The JSON must
# carry the record's device, date and command, and the Markdown its table. Then a run with an
# unreadable --images folder stops with a one-line error. About 20 s on 2 cores.
source "$(dirname "$0")/common.sh"
use_random_split_fixture
py=/usr/bin/python3; [[ -x $py ]] || py=python3
work="$WORK-serve-load"
rm -rf "$work" && mkdir -p "$work/empty"

"$ASLNET" bench serve --checkpoint "$checkpoint" --images "$WORK/asl_alphabet_train" --requests 200 --clients 8 \
  --warmup 16 --threads 2 --device cpu --out "$work/out" | tee "$work/output.txt"

"$py" - "$work/out/bench-serve.json" "$work/out/bench-serve.md" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
md = open(sys.argv[2]).read()
for key in ("command", "date", "device", "config", "modes", "batching_vs_not"):
    assert key in doc, f"no '{key}' in {sys.argv[1]}"
assert "bench serve" in doc["command"], doc["command"]
modes = {m["mode"]: m for m in doc["modes"]}
assert set(modes) == {"batching", "no batching"}, list(modes)
for name, m in modes.items():
    lat = m["latency_ms"]
    assert m["requests"] == 200 and m["failures"] == 0, f"{name}: {m['failures']} failed ({m.get('first_failure')})"
    assert m["throughput_rps"] > 0 and m["wall_s"] > 0, m
    assert 0 < lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["max"], f"{name}: latencies out of order: {lat}"
    assert m["mean_batch"] is not None and m["mean_batch"] >= 1, m
    assert set(m["server_timing_ms"]) >= {"decode", "queue", "model", "total"}, m["server_timing_ms"]
    print(f"{name}: {m['throughput_rps']:.1f} requests/s, p50 {lat['p50']:.1f} ms, p99 {lat['p99']:.1f} ms, "
          f"mean batch {m['mean_batch']:.2f}")
assert modes["batching"]["mean_batch"] > 1, f"batching never batched: {modes['batching']['mean_batch']}"
# Without batching a request's images run alone: one image a request here.
assert modes["no batching"]["mean_batch"] == 1, modes["no batching"]["mean_batch"]
ratio = doc["batching_vs_not"]["throughput"]
assert abs(ratio - modes["batching"]["throughput_rps"] / modes["no batching"]["throughput_rps"]) < 1e-6, ratio
assert "| batching |" in md and "| no batching |" in md and doc["date"] in md, md
print(f"batching against not: throughput x{ratio:.2f}")
PY

# A folder with no images: one line, naming it, before any server starts.
if "$ASLNET" bench serve --checkpoint "$checkpoint" --images "$work/empty" --out "$work/out-empty" \
    > /dev/null 2> "$work/err.txt"; then
  echo "bench serve accepted an empty --images folder" >&2
  exit 1
fi
[[ $(wc -l < "$work/err.txt") == 1 ]] && grep -q "empty holds no" "$work/err.txt" || { cat "$work/err.txt"; exit 1; }
echo "serve_load: no failed request in either mode, and batching batched"
