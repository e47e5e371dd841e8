#!/usr/bin/env bash
# aslnet serve's page in a real browser: headless Chromium (Debian's chromium and chromium-driver, driven
# by selenium 4.8 from /usr/bin/python3, see serve_browser.py) against `aslnet serve` on the fixture's
# checkpoint. The page loads (every element id of docs/serve.md, nothing external); a corrupt upload's
# server error shows in #status; a held-out photo dropped on the page, and another picked through the
# file input, get their letters and 5 probability bars; live mode, fed by Chromium's fake camera with a
# looping video of held-out photos that spell HELLO (H, E, L, nothing, L, O, space; each sign held 2 s),
# shows HELLO in #live-text within 60 s; Speak points #audio at /speech, which answers a WAV; Clear and
# Stop work. The screenshot of the page with both results is left in $WORK-serve-browser/page.png
# (printed at the end).
# This test checks the page and the server, not the model: the photos are chosen among the held-out ones
# (OUT/validation-files.txt) as those that `aslnet predict` reads right with the highest probability
# (at least 0.8), so a wrong letter here means the page, the server or the browser lost something.
# Skipped (77) without real data, or without chromium, chromedriver, selenium, numpy or Pillow
# (scripts/install-deps.sh --with-torch --with-browser installs them).
source "$(dirname "$0")/common.sh"
# The whole test under one time limit, well inside ctest's 600 s (timeout kills its process group:
# the server, chromedriver and Chromium with it).
if [[ -z "${ASLNET_SERVE_BROWSER_TIMED:-}" ]]; then
  export ASLNET_SERVE_BROWSER_TIMED=1
  exec timeout -k 10 420 "$0" "$@"
fi
use_random_split_fixture
py=/usr/bin/python3
[[ -x $py ]] || skip "no /usr/bin/python3"
for tool in /usr/bin/chromium /usr/bin/chromedriver; do
  [[ -x $tool ]] || skip "no $tool (scripts/install-deps.sh --with-browser installs chromium and chromium-driver)"
done
"$py" -c "import selenium, numpy, PIL" 2> /dev/null ||
  skip "/usr/bin/python3 lacks selenium, numpy or PIL (scripts/install-deps.sh --with-torch --with-browser)"
here=$(cd "$(dirname "$0")" && pwd)
work="$WORK-serve-browser"
rm -rf "$work" && mkdir -p "$work"
began=$SECONDS

# The photos: for each class needed, the held-out photo the model reads best (see the header).
word=HELLO
signs=(H E L nothing L O space)
photo_class=Y
mapfile -t held_out < <(grep -E "/(H|E|L|O|nothing|space|$photo_class)/[^/]*$" "$held_out_list")
timeout 120 "$ASLNET" predict "$checkpoint" "${held_out[@]}" --json --top-k 1 > "$work/predictions.json"
"$py" "$here/serve_browser.py" pick "$work/predictions.json" H E L O nothing space "$photo_class" > "$work/picked.txt"
cat "$work/picked.txt"
photo_of() { awk -v c="$1" '$1 == c { print $2 }' "$work/picked.txt"; }
video_photos=()
for s in "${signs[@]}"; do video_photos+=("$(photo_of "$s")"); done
"$py" "$here/serve_browser.py" video "$work/hello.y4m" "${video_photos[@]}" --size 200 --fps 10 --hold-s 2
head -c 3000 /dev/urandom > "$work/corrupt.jpg"
printf '\xff\xd8\xff' | dd of="$work/corrupt.jpg" conv=notrunc status=none  # a JPEG's magic, then noise

# The server, on a free port; its first line names the address.
server_pid=
cleanup() {
  local status=$?
  if [[ -n $server_pid ]]; then kill "$server_pid" 2> /dev/null || true; wait "$server_pid" 2> /dev/null || true; fi
  if ((status != 0)); then
    echo "--- aslnet serve's output:"; cat "$work/server.out" "$work/server.err" 2> /dev/null || true
    [[ -f $work/page.png ]] && echo "screenshot: $work/page.png"
    echo "FAILED (status $status)"
  fi
  exit $status
}
trap cleanup EXIT
trap 'exit 143' TERM INT
"$ASLNET" serve --checkpoint "$checkpoint" --port 0 --threads 2 > "$work/server.out" 2> "$work/server.err" &
server_pid=$!
url=
for _ in $(seq 1 600); do
  url=$(head -n 1 "$work/server.out" | grep -oE 'http://127\.0\.0\.1:[0-9]+' || true)
  [[ -n $url ]] && break
  kill -0 "$server_pid" 2> /dev/null || { echo "aslnet serve exited before listening"; exit 1; }
  sleep 0.1
done
[[ -n $url ]] || { echo "aslnet serve printed no address within 60 s"; exit 1; }
echo "server: $(head -n 1 "$work/server.out")"

timeout 300 "$py" "$here/serve_browser.py" drive --url "$url/" --photo "$(photo_of "$photo_class")" --letter "$photo_class" \
  --drop-photo "$(photo_of E)" --drop-letter E \
  --corrupt "$work/corrupt.jpg" --video "$work/hello.y4m" --word "$word" --screenshot "$work/page.png" --live-timeout 60
kill -0 "$server_pid" 2> /dev/null || { echo "aslnet serve died during the test"; exit 1; }
echo "serve_browser: passed in $((SECONDS - began)) s; screenshot: $work/page.png"
