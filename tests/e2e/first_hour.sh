#!/usr/bin/env bash
# The README as a newcomer reads it: the "first hour" block (synthesise, train, watch, plot, resume,
# evaluate, predict, serve) run as written, in an empty folder with the binary as build/aslnet, and
# the curl commands of the serve section against a served checkpoint. Each is extracted from README.md,
# so the README cannot drift from what works.
source "$(dirname "$0")/common.sh"
root=$(cd "$(dirname "$0")/../.." && pwd)
work="$WORK-first-hour"
rm -rf "$work" && mkdir -p "$work/build"
ln -s "$(realpath "$ASLNET")" "$work/build/aslnet"
fail() { echo "FAILED: $*" >&2; exit 1; }

# The fenced sh block after the heading "## The first hour", and the one holding serve's curl commands.
/usr/bin/python3 - "$root/README.md" "$work" <<'PY'
import re, sys
readme, work = open(sys.argv[1]).read(), sys.argv[2]
blocks = [(m.start(), m.group(1)) for m in re.finditer(r"```sh\n(.*?)```", readme, re.S)]
heading = readme.index("## The first hour")
first_hour = next(text for at, text in blocks if at > heading)
curl = next(text for at, text in blocks if "/translate/reset" in text and "curl" in text)
# A server left behind by a failing line must not outlive the test.
open(f"{work}/first-hour.sh", "w").write("trap 'kill $(jobs -p) 2> /dev/null || true' EXIT\n" + first_hour)
open(f"{work}/curl.sh", "w").write(curl)
PY

cd "$work"
bash -euo pipefail first-hour.sh > first-hour.out 2>&1 || { cat first-hour.out; fail "the first hour's block failed"; }
grep -q "interrupted at step 60" first-hour.out || fail "the run was not stopped at step 60"
[[ -L runs/latest && -f runs/latest/run.json && -f curves.png && -f confusion.png ]] ||
  fail "the walk-through left no runs/latest/run.json, curves.png or confusion.png"
rows=$(($(wc -l < runs/latest/metrics.csv) - 1))
epochs=$(json_field runs/latest/run.json '["options"]["epochs"]')
(( rows == epochs )) || fail "metrics.csv has $rows rows for $epochs epochs"
grep -q '"top"' first-hour.out || fail "serve's /predict gave no answer: $(tail -n 3 first-hour.out)"
echo "the first hour: every command of the README's block ran ($epochs epochs, $rows rows in metrics.csv)"

# Serve's curl commands: the README's port replaced by a free one, its file names by held-out images.
cp hands-test/L/L1.jpg photo.jpg && cp hands-test/H/H1.jpg a.jpg && cp hands-test/I/I1.jpg b.jpg
aslnet=build/aslnet
"$aslnet" serve --checkpoint runs/latest/best.safetensors --port 0 --threads 2 > server.out 2> server.err &
server=$!
trap 'kill "$server" 2> /dev/null || true' EXIT
for _ in $(seq 1 300); do
  [[ $(head -n 1 server.out) =~ listening\ on\ http://127\.0\.0\.1:([0-9]+) ]] && break
  kill -0 "$server" 2> /dev/null || { cat server.err; fail "aslnet serve exited"; }
  sleep 0.1
done
port=${BASH_REMATCH[1]:?the server never said where it listens}
sed "s/127\.0\.0\.1:8080/127.0.0.1:$port/g" curl.sh > curl-here.sh
bash -euo pipefail curl-here.sh > curl.out || fail "the README's curl commands failed"
# curl prints each answer without a newline: read them as a sequence of JSON objects.
/usr/bin/python3 - curl.out <<'PY' || fail "unexpected answers to the README's curl commands: $(cat curl.out)"
import json, sys
text, answers, at = open(sys.argv[1]).read(), [], 0
while at < len(text):
    answer, at = json.JSONDecoder().raw_decode(text, at)
    answers.append(answer)
    while at < len(text) and text[at].isspace(): at += 1
predict, raw, translate, reset, health = answers
assert len(predict["top"]) == 3 and len(raw["top"]) == 5, (predict, raw)
assert len(translate["frames"]) == 2 and translate["session"] == "my-text-1", translate
assert reset["text"] == "", reset
PY
[[ $(head -c 4 hello.wav) == RIFF ]] || fail "/speech gave no WAV"
# `curl -X POST` sends no Content-Length: the 400 says what is missing, not that the request is not HTTP.
unsized=$(curl -s -X POST "http://127.0.0.1:$port/translate/reset?session=my-text-1")
[[ $unsized == *"a POST needs a Content-Length header"* ]] || fail "a POST without a length got: $unsized"
echo "serve: the README's curl commands answer (predict twice, translate, reset, speech, healthz)"
