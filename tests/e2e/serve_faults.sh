#!/usr/bin/env bash
# aslnet serve under faults (issue: nothing lost, nothing misreported), on a tiny checkpoint trained
# here on synthetic images, so that it runs without the real data:
# - a second server on a port already in use refuses to start (no SO_REUSEPORT: two servers would
#   split the requests between two models), names the port, and leaves the first one answering;
# - a photo of more than 8 KB posted raw with a form's Content-Type (curl --data-binary's default) is
#   read as the image;
# - a request that announces a body over --max-body-mb (and never sends it) gets a 413 naming that
#   limit at once;
# - 200 idle connections, and nine clients sending a byte every half second, leave /healthz answering
#   within a second (more threads start while they hold some, serve/connection_pool.h).
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
import json, sys, urllib.error, urllib.request
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
print(f"a {len(data)}-byte photo posted as a form: read")
PY

/usr/bin/python3 - "$port" <<'PY'
import socket, sys, threading, time, urllib.request
port = int(sys.argv[1])
def healthz_seconds():
    start = time.monotonic()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=30) as answer:
        assert answer.status == 200
    return time.monotonic() - start

# An over-limit body announced, never sent: the 413 must not wait for it.
s = socket.create_connection(("127.0.0.1", port))
s.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\nContent-Length: 100000000\r\n\r\n")
s.settimeout(10)
start = time.monotonic()
reply = s.recv(4096).decode(errors="replace")
took = time.monotonic() - start
while chunk := s.recv(4096):  # the body follows the headers; the server then closes the connection
    reply += chunk.decode(errors="replace")
s.close()
assert reply.startswith("HTTP/1.1 413") and "--max-body-mb" in reply, reply
assert took < 1.0, f"the 413 took {took:.1f} s"

# A request that is not HTTP: a 400 that says what the server reads, not one blaming a POST's body.
s = socket.create_connection(("127.0.0.1", port))
s.sendall(b"HELLO THERE\r\n\r\n")
s.settimeout(10)
reply = b""
while not reply.endswith(b"}"):  # headers and the JSON body may come in separate writes
    chunk = s.recv(4096)
    if not chunk:
        break
    reply += chunk
reply = reply.decode(errors="replace")
s.close()
assert reply.startswith("HTTP/1.1 400") and "not HTTP/1.1" in reply and "POST needs" not in reply, reply

idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(200)]
time.sleep(0.5)
idle_s = healthz_seconds()
assert idle_s < 1.0, f"/healthz took {idle_s:.1f} s with 200 idle connections"
stop = threading.Event()
def slow_client():
    c = socket.create_connection(("127.0.0.1", port))
    try:
        for byte in b"POST /predict HTTP/1.1\r\nHost: x\r\n":
            if stop.is_set():
                break
            c.send(bytes([byte]))
            time.sleep(0.5)
    except OSError:
        pass
    c.close()
slow = [threading.Thread(target=slow_client) for _ in range(9)]
for t in slow:
    t.start()
time.sleep(1.0)
slow_s = healthz_seconds()
stop.set()
for t in slow:
    t.join()
for c in idle:
    c.close()
assert slow_s < 1.0, f"/healthz took {slow_s:.1f} s with nine slow clients"
print(f"announced 100 MB body: 413 in {took * 1000:.0f} ms; /healthz with 200 idle connections: "
      f"{idle_s * 1000:.0f} ms; with nine slow clients: {slow_s * 1000:.0f} ms")
PY
