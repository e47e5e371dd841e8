#!/usr/bin/env bash
# aslnet serve's HTTP API (docs/serve.md) against a real server process: the fixture's checkpoint
# served on a free port, with small limits (--max-body-mb 2, --max-frames 16) so that they can be hit
# cheaply. Good requests: /healthz, the page, /predict of a held-out photo the checkpoint reads right
# and confidently (raw JPEG, multipart, octet-stream, and the same photo as a PNG), top_k, /translate of
# several frames (one sequence, and a session across requests, reset), /speech as a WAV. Bad ones, each
# with its status and a one-line JSON {"error"} body: a truncated JPEG, text, a 50-megapixel image
# (JPEG and PNG), an empty body, a body over the limit, top_k 0 and 30, a wrong method, an unknown path,
# a bad session id, too many frames, frames none of which can be read, empty and over-long speech text.
# After each bad request the server must still answer /healthz (a fresh connection), and after some,
# the same keep-alive connection must still answer. At the end the process must be alive, with no
# crash on stderr, and stop cleanly (status 0) on SIGTERM.
source "$(dirname "$0")/common.sh"
use_random_split_fixture
py=/usr/bin/python3; [[ -x $py ]] || py=python3
work="$WORK-serve-api"
rm -rf "$work" && mkdir -p "$work"

# Held-out photos the checkpoint reads right with a margin (so that the server's decode path, or a PNG
# of the same pixels, gives the same letter), by class.
"$ASLNET" predict "$checkpoint" $(cat "$held_out_list") --json > "$work/predictions.json"

server_pid=
trap '[[ -n $server_pid ]] && kill "$server_pid" 2> /dev/null; true' EXIT
"$ASLNET" serve --checkpoint "$checkpoint" --port 0 --threads 2 --max-body-mb 2 --max-frames 16 \
  --hold-frames 3 --min-confidence 0.5 > "$work/server.out" 2> "$work/server.err" &
server_pid=$!
line=
for _ in $(seq 1 600); do
  line=$(head -n 1 "$work/server.out")
  [[ -n $line ]] && break
  kill -0 "$server_pid" 2> /dev/null || { echo "aslnet serve exited before listening:"; cat "$work/server.err"; exit 1; }
  sleep 0.1
done
[[ $line =~ ^aslnet\ serve:\ listening\ on\ http://127\.0\.0\.1:([0-9]+)\  ]] \
  || { echo "unexpected first line: '$line'"; cat "$work/server.err"; exit 1; }
port=${BASH_REMATCH[1]}
echo "$line"

"$py" - "$port" "$work/predictions.json" "$work" <<'PY'
import http.client, io, json, os, sys, wave
from PIL import Image

port, work = int(sys.argv[1]), sys.argv[3]
confident = {}
for p in json.load(open(sys.argv[2])):
    truth = os.path.basename(os.path.dirname(p["image"]))
    if "top" in p and p["top"][0]["class"] == truth and p["top"][0]["probability"] > 0.8:
        confident.setdefault(truth, []).append((p["top"][0]["probability"], p["image"]))
for c in confident.values():
    c.sort(reverse=True)
best = max((c[0][0], c[0][1], k) for k, c in confident.items() if k not in ("del", "nothing", "space"))
photo_path, letter = best[1], best[2]
photo = open(photo_path, "rb").read()
frames = {k: [open(path, "rb").read() for _, path in confident[k][:4]] for k in ("H", "I")}
assert all(len(v) == 4 for v in frames.values()), {k: len(v) for k, v in confident.items()}
print(f"photo {photo_path} ({letter}, {100 * best[0]:.0f}% in aslnet predict)")

def call(method, path, body=None, headers=None, conn=None):
    c = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, r.getheader("Content-Type", ""), r.read()
    finally:
        if conn is None:
            c.close()

def answer(status, ctype, body, what):
    assert ctype.startswith("application/json"), f"{what}: Content-Type {ctype!r}"
    assert body.rstrip(b"\n").count(b"\n") == 0, f"{what}: the JSON is not one line: {body[:300]!r}"
    return json.loads(body)

def good(method, path, body=None, headers=None, conn=None, what=None):
    what = what or f"{method} {path}"
    status, ctype, out = call(method, path, body, headers, conn)
    assert status == 200, f"{what}: {status} {out[:300]!r}"
    return answer(status, ctype, out, what)

def healthy(conn=None, what=""):
    h = good("GET", "/healthz", conn=conn, what=f"GET /healthz after {what}")
    assert h["status"] == "ok", h
    return h

bad_count = 0
def bad(want, method, path, body=None, headers=None, what=""):
    global bad_count
    what = f"{what} ({method} {path[:60]})"
    try:
        status, ctype, out = call(method, path, body, headers)
    except (ConnectionError, http.client.HTTPException) as e:
        raise AssertionError(f"{what}: no HTTP answer ({e!r}), expected {want}")
    assert status == want, f"{what}: {status}, expected {want}: {out[:300]!r}"
    err = answer(status, ctype, out, what)
    assert isinstance(err, dict) and isinstance(err.get("error"), str) and err["error"], f"{what}: {err}"
    healthy(what=what)
    bad_count += 1
    print(f"  {status} {what}: {err['error']}")

def multipart(fields):
    boundary = "aslnet-e2e-boundary-7d1f"
    out = b""
    for name, filename, ctype, data in fields:
        out += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\n"
                f"Content-Type: {ctype}\r\n\r\n").encode() + data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return out, {"Content-Type": f"multipart/form-data; boundary={boundary}"}

def top_letter(r, what):
    top = r["top"]
    probs = [t["probability"] for t in top]
    assert probs == sorted(probs, reverse=True) and 0 < probs[0] <= 1, f"{what}: {top}"
    assert top[0]["class"] == letter, f"{what}: read {top[0]['class']}, not {letter}: {top}"
    return r

# Health and the page.
h = healthy(what="start")
assert len(h["classes"]) == 29 and h["classes"][0] == "A", h
for key in ("arch", "image_size", "device", "batching", "requests", "uptime_s"):
    assert key in h, f"/healthz has no {key}: {h}"
assert {"enabled", "max_batch", "window_ms", "mean_batch"} <= set(h["batching"]), h
status, ctype, page = call("GET", "/")
assert status == 200 and ctype.startswith("text/html") and b"<html" in page.lower(), (status, ctype, page[:200])

# /predict, every way an image can come.
r = top_letter(good("POST", "/predict", photo, {"Content-Type": "image/jpeg"}), "raw JPEG")
assert len(r["top"]) == 5 and r["batch"] >= 1, r
assert {"decode", "queue", "model", "total"} <= set(r["timing_ms"]), r
assert len(good("POST", "/predict?top_k=3", photo, {"Content-Type": "image/jpeg"})["top"]) == 3
assert len(good("POST", "/predict?top_k=29", photo, {"Content-Type": "image/jpeg"})["top"]) == 29
top_letter(good("POST", "/predict", photo, {"Content-Type": "application/octet-stream"}), "octet-stream")
body, headers = multipart([("image", "photo.jpg", "image/jpeg", photo)])
top_letter(good("POST", "/predict", body, headers), "multipart")
png = io.BytesIO()
Image.open(io.BytesIO(photo)).convert("RGB").save(png, "PNG")
top_letter(good("POST", "/predict", png.getvalue(), {"Content-Type": "image/png"}), "PNG")
print(f"predict: {letter} as raw JPEG, octet-stream, multipart and PNG")

# Bad images and bodies.
bad(400, "POST", "/predict", photo[: len(photo) // 2], {"Content-Type": "image/jpeg"}, "a truncated JPEG")
bad(400, "POST", "/predict", b"this is not a photo\n" * 20, {"Content-Type": "image/jpeg"}, "text as a JPEG")
bad(400, "POST", "/predict", b"hello", {"Content-Type": "text/plain"}, "text")
bad(400, "POST", "/predict", b"", {"Content-Type": "image/jpeg"}, "an empty body")
bad(400, "POST", "/predict", None, None, "no body at all")
body, headers = multipart([("image", "half.jpg", "image/jpeg", photo[: len(photo) // 2])])
bad(400, "POST", "/predict", body, headers, "a truncated JPEG in multipart")
body, headers = multipart([("other", "photo.jpg", "image/jpeg", photo)])
bad(400, "POST", "/predict", body, headers, "multipart without an image field")
for fmt in ("JPEG", "PNG"):
    big = io.BytesIO()
    Image.new("RGB", (8000, 6250), (200, 150, 120)).save(big, fmt)
    assert len(big.getvalue()) < 2 << 20, len(big.getvalue())  # under the body limit: the pixels are refused
    bad(413, "POST", "/predict", big.getvalue(), {"Content-Type": f"image/{fmt.lower()}"},
        f"a 50-megapixel {fmt} of {len(big.getvalue()) >> 10} KiB")
bad(413, "POST", "/predict", photo + b"\0" * (3 << 20), {"Content-Type": "image/jpeg"}, "a 3 MB body (limit 2 MB)")
for k in ("0", "30", "-1", "five"):
    bad(400, "POST", f"/predict?top_k={k}", photo, {"Content-Type": "image/jpeg"}, f"top_k={k}")

# Methods and paths.
bad(405, "GET", "/predict", what="wrong method")
bad(405, "DELETE", "/translate", what="wrong method")
bad(405, "POST", "/healthz", b"", what="wrong method")
bad(405, "GET", "/translate/reset?session=abcdefgh", what="wrong method")
bad(404, "GET", "/nope", what="unknown path")
bad(404, "POST", "/predict/extra", photo, {"Content-Type": "image/jpeg"}, "unknown path")

# A keep-alive connection survives a bad request.
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
status, _, _ = call("POST", "/predict", photo[:100], {"Content-Type": "image/jpeg"}, conn)
assert status == 400, status
top_letter(good("POST", "/predict", photo, {"Content-Type": "image/jpeg"}, conn), "after a 400, same connection")
status, _, _ = call("GET", "/predict", conn=conn)
assert status == 405, status
healthy(conn, "a 405 on the same connection")
conn.close()

# /translate: one sequence of frames, then a session across requests.
def frame_fields(*groups):
    fields = []
    for g in groups:
        for data in g:
            fields.append(("frame", f"frame{len(fields) + 1}.jpg", "image/jpeg", data))
    return multipart(fields)

body, headers = frame_fields(frames["H"], frames["I"])
r = good("POST", "/translate", body, headers)
assert r["text"] == "HI" and len(r["frames"]) == 8 and "session" not in r and r["batch"] >= 8, r
assert all(isinstance(f["top"], str) and 0 < f["confidence"] <= 1 for f in r["frames"]), r["frames"]
assert sum(1 for f in r["frames"] if f.get("emitted")) == 2, r["frames"]
r = good("POST", "/translate", frames["H"][0], {"Content-Type": "image/jpeg"}, what="one raw frame")
assert len(r["frames"]) == 1 and r["text"] == "", r
body, headers = frame_fields(frames["H"], [b"not a photo"], frames["I"])
r = good("POST", "/translate", body, headers, what="an unreadable frame among readable ones")
assert len(r["frames"]) == 9 and "error" in r["frames"][4] and r["text"] == "HI", r
session = "e2e-session_01"
for group, text in (("H", "H"), ("I", "HI")):
    body, headers = frame_fields(frames[group])
    r = good("POST", f"/translate?session={session}", body, headers)
    assert r["text"] == text and r.get("session") == session, (text, r)
assert good("POST", f"/translate/reset?session={session}", b"")["text"] == "", "reset"
body, headers = frame_fields(frames["I"])
r = good("POST", f"/translate?session={session}", body, headers)
assert r["text"] == "I", r
print("translate: HI as one sequence, H then HI in a session, I after a reset")
body, headers = frame_fields(frames["H"])
for sid in ("short", "has!bang", "x" * 65):
    bad(400, "POST", f"/translate?session={sid}", body, headers, f"session id {sid[:10]!r}")
bad(400, "POST", "/translate/reset", b"", what="reset without a session")
body, headers = frame_fields(frames["H"] * 4, frames["I"])  # 20 frames, --max-frames 16
bad(413, "POST", "/translate", body, headers, "20 frames (limit 16)")
body, headers = frame_fields([b"not a photo", frames["H"][0][:500]])
bad(400, "POST", "/translate", body, headers, "no readable frame")
bad(400, "POST", "/translate", b"", {"Content-Type": "image/jpeg"}, "an empty body")

# /speech.
status, ctype, wav = call("GET", "/speech?text=HELLO")
assert status == 200 and ctype.startswith("audio/wav") and wav[:4] == b"RIFF" and wav[8:12] == b"WAVE", (status, ctype, wav[:16])
with wave.open(io.BytesIO(wav)) as w:
    assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 22050), w.getparams()
    assert w.getnframes() > 22050 // 10, w.getnframes()
print(f"speech: HELLO as {len(wav)} bytes of WAV")
bad(400, "GET", "/speech?text=", what="empty text")
bad(400, "GET", "/speech", what="no text")
bad(400, "GET", "/speech?text=" + "A" * 201, what="201 characters")

h = healthy(what="everything")
print(f"{bad_count} bad requests answered with their status; the server has answered {h['requests']} requests")
PY

kill -0 "$server_pid" 2> /dev/null || { echo "aslnet serve died:"; cat "$work/server.err"; exit 1; }
if grep -Eiq "terminate called|segmentation|aborted|core dumped|sanitizer|assert" "$work/server.err"; then
  echo "aslnet serve's stderr shows a crash:"; cat "$work/server.err"; exit 1
fi
kill -TERM "$server_pid"
for _ in $(seq 1 100); do kill -0 "$server_pid" 2> /dev/null || break; sleep 0.1; done
if kill -0 "$server_pid" 2> /dev/null; then echo "aslnet serve did not stop within 10 s of SIGTERM"; exit 1; fi
status=0; wait "$server_pid" || status=$?
server_pid=
[[ $status == 0 ]] || { echo "aslnet serve exited with status $status on SIGTERM:"; cat "$work/server.err"; exit 1; }
echo "serve_api: every answer as docs/serve.md says, and the server survived every bad request"
