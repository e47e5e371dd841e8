#!/usr/bin/env bash
# aslnet serve under faults (issue: nothing lost, nothing misreported), on a tiny checkpoint trained
# here on synthetic images, so that it runs without the real data:
# - a second server on a port already in use refuses to start (no SO_REUSEPORT: two servers would
#   split the requests between two models), names the port, and leaves the first one answering;
# - a photo of more than 8 KB posted raw with a form's Content-Type (curl --data-binary's default) is
#   read as the image, and a body over --max-body-mb is a 413 that names that limit.
source "$(dirname "$0")/common.sh"
work="$WORK/serve_faults"
rm -rf "$work" && mkdir -p "$work"
"$ASLNET" synth --out "$work/data" --per-class 4 --size 32 --seed 6 > /dev/null
"$ASLNET" train "$work/data" --arch resnet18 --width 0.125 --image-size 32 --batch 16 --epochs 1 --quiet \
  --val-fraction 0 --threads 2 --out "$work/run" > /dev/null
checkpoint="$work/run/last.safetensors"

server_pid=
trap '[[ -n $server_pid ]] && kill "$server_pid" 2> /dev/null; true' EXIT
"$ASLNET" serve --checkpoint "$checkpoint" --port 0 --threads 2 --max-body-mb 2 > "$work/server.out" 2> "$work/server.err" &
server_pid=$!
line=
for _ in $(seq 1 300); do
  line=$(head -n 1 "$work/server.out")
  [[ -n $line ]] && break
  kill -0 "$server_pid" 2> /dev/null || { echo "aslnet serve exited before listening:"; cat "$work/server.err"; exit 1; }
  sleep 0.1
done
[[ $line =~ listening\ on\ http://127\.0\.0\.1:([0-9]+) ]] || { echo "unexpected first line: '$line'"; exit 1; }
port=${BASH_REMATCH[1]}

status=0
timeout 60 "$ASLNET" serve --checkpoint "$checkpoint" --port "$port" --threads 1 > "$work/second.out" \
  2> "$work/second.err" || status=$?
[[ $status -ne 0 && $status -ne 124 ]] || { echo "a second server on busy port $port started (status $status)"; exit 1; }
grep -q "cannot listen on 127.0.0.1:$port" "$work/second.err" ||
  { echo "the refusal does not name the port:"; cat "$work/second.err"; exit 1; }
[[ ! -s "$work/second.out" ]] || { echo "the refused server said: $(cat "$work/second.out")"; exit 1; }
/usr/bin/python3 -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$port/healthz', timeout=10)" ||
  { echo "the first server stopped answering"; exit 1; }
echo "port in use: refused with '$(tr -d '\n' < "$work/second.err")'; the first server still answers"

"$ASLNET" synth --out "$work/large" --per-class 1 --size 320 --seed 2 > /dev/null
/usr/bin/python3 - "$port" "$work/large/A/A1.jpg" <<'PY'
import json, os, sys, urllib.error, urllib.request
port, photo = sys.argv[1], sys.argv[2]
data = open(photo, "rb").read()
assert len(data) > 8192, f"the test photo has only {len(data)} bytes"
def post(body, content_type):
    request = urllib.request.Request(f"http://127.0.0.1:{port}/predict", data=body,
                                     headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.load(answer)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)
status, answer = post(data, "application/x-www-form-urlencoded")
assert status == 200 and "top" in answer, (status, answer)
status, answer = post(os.urandom(3 << 20), "application/octet-stream")
assert status == 413 and "--max-body-mb" in answer["error"], (status, answer)
print(f"a {len(data)}-byte photo posted as a form: read; a 3 MiB body: 413 '{answer['error']}'")
PY
