#!/usr/bin/env bash
# aslnet check-data: a clean folder passes (exit 0); a truncated JPEG, a non-JPEG named .jpg and a stray
# file are each named on one line, with exit status 1, as are every misnamed or empty folder and a folder
# of one class; a missing folder is a one-line error.
source "$(dirname "$0")/common.sh"
work="$WORK-check-data"
rm -rf "$work" && mkdir -p "$work"
"$ASLNET" synth --out "$work/set" --per-class 2 --size 48 --seed 3 > /dev/null
"$ASLNET" check-data "$work/set" > "$work/clean.txt"
grep -q "no problems found" "$work/clean.txt"
head -c 300 "$work/set/A/A1.jpg" > "$work/cut" && mv "$work/cut" "$work/set/A/A1.jpg"
echo "not a picture" > "$work/set/B/B2.jpg"
echo "notes" > "$work/set/C/readme.txt"
if "$ASLNET" check-data "$work/set" > "$work/bad.txt"; then echo "check-data passed a damaged folder" >&2; exit 1; fi
grep -q "A/A1.jpg" "$work/bad.txt"
grep -q "B/B2.jpg: not a JPEG" "$work/bad.txt"
grep -q "C/readme.txt" "$work/bad.txt"
# The file after a damaged one (same decoder) is not blamed.
if grep -q "A/A2.jpg" "$work/bad.txt"; then echo "check-data blamed A2.jpg for A1.jpg's damage" >&2; exit 1; fi
# Every misnamed and empty folder is listed, not only the first, and one class alone is a problem.
mkdir -p "$work/set/photos" "$work/set/misc" "$work/set/D/empty-inside" "$work/one/A"
rm -f "$work/set/D/"*.jpg
cp "$work/set/A/A2.jpg" "$work/one/A/"
if "$ASLNET" check-data "$work/set" > "$work/layout.txt"; then echo "check-data passed misnamed folders" >&2; exit 1; fi
grep -q "set/misc names no ASL class" "$work/layout.txt"
grep -q "set/photos names no ASL class" "$work/layout.txt"
grep -q "class folder $work/set/D holds no .jpg images" "$work/layout.txt"
if "$ASLNET" check-data "$work/one" > "$work/one.txt"; then echo "check-data passed a one-class folder" >&2; exit 1; fi
grep -q "images of one class only (A)" "$work/one.txt"
if "$ASLNET" check-data "$work/nowhere" 2> "$work/err.txt"; then echo "check-data accepted a missing folder" >&2; exit 1; fi
[[ $(wc -l < "$work/err.txt") == 1 ]] && grep -q "nowhere" "$work/err.txt"
echo "check-data: $(grep -c . "$work/bad.txt") lines for a damaged folder"
