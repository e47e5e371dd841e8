#!/usr/bin/env bash
# eval and predict work on the fixture's checkpoint: eval over the whole sample (text, JSON, CSV, PNG),
# on the real-world dev set by origin (when its archive is there: four origins adding up to 1,521 photos,
# the misread contact sheet), predict on a few images (text and JSON, with and without --tta), and both
# reject bad input with one line naming it.
source "$(dirname "$0")/common.sh"
[[ -f "$WORK/no-data" ]] && skip "real ASL data not found (see the setup test)"
ckpt="$WORK/random/best.safetensors"
train_dir="$WORK/asl_alphabet_train"
out="$WORK/eval"
mkdir -p "$out"
"$ASLNET" eval "$ckpt" "$train_dir" --csv "$out/confusion.csv" --png "$out/confusion.png" | tee "$out/eval.txt"
grep -q "accuracy" "$out/eval.txt"
"$ASLNET" eval "$ckpt" "$train_dir" --json > "$out/eval.json"
accuracy=$(json_field "$out/eval.json" "['accuracy']")
images=$(json_field "$out/eval.json" "['images']")
[[ "$images" == 5800 ]] || { echo "eval saw $images images, expected 5800" >&2; exit 1; }
/usr/bin/python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) >= 0.85 else 1)" "$accuracy" ||
  { echo "eval accuracy $accuracy on the sample is below 0.85" >&2; exit 1; }
[[ $(wc -l < "$out/confusion.csv") == 30 ]] || { echo "confusion.csv should have 30 lines" >&2; exit 1; }
head -c 8 "$out/confusion.png" | od -An -c | grep -q "P   N   G" || { echo "confusion.png is not a PNG" >&2; exit 1; }

# The real-world dev set: other hands, cameras and rooms, letters only, reported per origin.
if [[ -f "$DATA_DIR/asl-realworld-dev.tar" ]]; then
  tar -xf "$DATA_DIR/asl-realworld-dev.tar" -C "$WORK"
  "$ASLNET" eval "$ckpt" "$WORK/asl_realworld_dev" --by-origin --tta flip --misread-png "$out/misread.png" |
    tee "$out/realworld.txt"
  "$ASLNET" eval "$ckpt" "$WORK/asl_realworld_dev" --by-origin --json > "$out/realworld.json"
  /usr/bin/python3 - "$out/realworld.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
names = [s["name"] for s in j["sources"]]
assert names == ["massey", "nesrine", "rfasl", "rfaslaug"], names
assert sum(s["images"] for s in j["sources"]) == j["total"]["images"] == 1521, j["total"]["images"]
assert sum(s["correct"] for s in j["sources"]) == j["total"]["correct"]
assert len(j["total"]["restricted_classes"]) == 26 and j["restricted_accuracy"] >= j["accuracy"]
print(f"real-world dev: accuracy {j['accuracy']:.3f}, restricted to the letters {j['restricted_accuracy']:.3f}")
PY
  head -c 8 "$out/misread.png" | od -An -c | grep -q "P   N   G" || { echo "misread.png is not a PNG" >&2; exit 1; }
fi

# The sample keeps 200 of each class's 3,000 file numbers: take each class's lowest-numbered file.
first() { find "$train_dir/$1" -name '*.jpg' | sort -V | sed -n 1p; }
images=("$(first A)" "$(first B)" "$(first space)")
"$ASLNET" predict "$ckpt" "${images[@]}" --top-k 3 | tee "$out/predict.txt"
[[ $(wc -l < "$out/predict.txt") == 3 ]]
"$ASLNET" predict "$ckpt" "${images[@]}" --json > "$out/predict.json"
"$ASLNET" predict "$ckpt" "${images[@]}" --json --tta crops > "$out/predict-crops.json"
/usr/bin/python3 - "$out/predict.json" <<'PY'
import json, sys
results = json.load(open(sys.argv[1]))
assert len(results) == 3 and all(len(r["top"]) == 3 for r in results), results
right = sum(r["top"][0]["class"] == want for r, want in zip(results, ["A", "B", "space"]))
assert right >= 2, f"only {right} of 3 training images predicted right: {results}"
PY
# Bad input: one line, naming the file.
if "$ASLNET" predict "$ckpt" "$WORK/missing.jpg" 2> "$out/err.txt"; then echo "predict accepted a missing file" >&2; exit 1; fi
grep -q "missing.jpg" "$out/err.txt"
if "$ASLNET" eval "$WORK/missing.safetensors" "$train_dir" 2> "$out/err.txt"; then echo "eval accepted a missing checkpoint" >&2; exit 1; fi
grep -q "missing.safetensors" "$out/err.txt"
[[ $(wc -l < "$out/err.txt") == 1 ]]
echo "eval accuracy $accuracy on $images images; predict ok"
