#!/usr/bin/env bash
# eval's figures can be recomputed from its own JSON: top-1 and top-5 accuracy, the confusion matrix,
# per-class precision, recall and F1 and their macro averages (over the classes with images), per source
# and for the total, from the per-image predictions alone (Python's standard library, no numpy). The
# checkpoint given as --checkpoint or as the first argument gives the same answers, --batch changes no
# answer, and --matrix fits in 100 columns. predict reads a folder of JPEG and PNG files in natural name
# order and gives the same letters as the files predicted one by one; an unreadable file is named and
# skipped. Needs no real data: a tiny model trains for a few seconds on synthetic hands.
source "$(dirname "$0")/common.sh"
work="$WORK/eval_metrics"
rm -rf "$work" && mkdir -p "$work"
"$ASLNET" synth --out "$work/train" --per-class 12 --size 40 --seed 3 --quiet
# AdamW without augmentation: a few seconds give a model that is right on some images and wrong on
# others, so that no figure is trivially 0 or 1.
"$ASLNET" train "$work/train" --arch resnet18 --stem small --width 0.125 --image-size 32 --epochs 8 --batch 16 \
  --split random --optimizer adamw --lr 0.003 --augment none --out "$work/run" --quiet --threads 2
ckpt="$work/run/last.safetensors"
[[ -f $ckpt ]] || { echo "training wrote no $ckpt" >&2; exit 1; }

# Two sources: every class (116 images), and letters A-M only with one unreadable photo (51 readable).
"$ASLNET" synth --out "$work/test" --per-class 4 --size 48 --seed 9 --quiet
mkdir -p "$work/letters"
for letter in A B C D E F G H I J K L M; do cp -r "$work/test/$letter" "$work/letters/"; done
head -c 100 "$work/letters/B/B1.jpg" > "$work/letters/B/B1.part" && mv "$work/letters/B/B1.part" "$work/letters/B/B1.jpg"

"$ASLNET" eval --checkpoint "$ckpt" "$work/test" "letters=$work/letters" --threads 2 --json > "$work/eval.json"
"$ASLNET" eval "$ckpt" "$work/test" "letters=$work/letters" --threads 2 --json > "$work/positional.json"
"$ASLNET" eval --checkpoint "$ckpt" "$work/test" "letters=$work/letters" --threads 2 --batch 7 --device cpu --json \
  > "$work/batch7.json"
"$ASLNET" eval --checkpoint "$ckpt" "$work/test" "letters=$work/letters" --threads 2 --matrix > "$work/eval.txt"
cat "$work/eval.txt"

/usr/bin/python3 - "$work" <<'PY'
import json, sys
work = sys.argv[1]
load = lambda name: json.load(open(f"{work}/{name}"))
j = load("eval.json")
classes = j["classes"]
k = len(classes)
assert k == 29, k

def close(a, b, what):
    assert abs(a - b) <= 1e-9, f"{what}: eval says {b}, recomputed {a}"

def check(figures, predictions, name):
    n = len(predictions)
    assert figures["images"] == n, (name, figures["images"], n)
    for p in predictions:
        top = p["top5"]
        assert len(top) == 5 and p["predicted"] == top[0]["class"], (name, p)
        assert all(top[i]["probability"] >= top[i + 1]["probability"] for i in range(4)), (name, p)
    top1 = sum(p["predicted"] == p["true"] for p in predictions)
    top5 = sum(any(t["class"] == p["true"] for t in p["top5"]) for p in predictions)
    assert figures["correct"] == top1 and figures["top5_correct"] == top5, (name, top1, top5)
    close(top1 / n, figures["accuracy"], f"{name} accuracy")
    close(top1 / n, figures["top1_accuracy"], f"{name} top-1")
    close(top5 / n, figures["top5_accuracy"], f"{name} top-5")
    index = {c: i for i, c in enumerate(classes)}
    confusion = [0] * (k * k)
    for p in predictions:
        confusion[index[p["true"]] * k + index[p["predicted"]]] += 1
    assert confusion == figures["confusion"], name
    sums = {"precision": 0.0, "recall": 0.0, "f1": 0.0}
    with_images = 0
    for c, cls in enumerate(classes):
        images = sum(confusion[c * k + q] for q in range(k))
        predicted = sum(confusion[t * k + c] for t in range(k))
        hits = confusion[c * k + c]
        # A class never predicted has precision 0 (scikit-learn's zero_division=0).
        precision = hits / predicted if predicted else 0.0
        recall = hits / images if images else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        if images == 0:
            assert cls not in figures["per_class"], (name, cls)
            continue
        with_images += 1
        got = figures["per_class"][cls]
        assert (got["count"], got["predicted"], got["hits"]) == (images, predicted, hits), (name, cls, got)
        for key, value in (("precision", precision), ("recall", recall), ("f1", f1), ("accuracy", recall)):
            close(value, got[key], f"{name} {cls} {key}")
            if key != "accuracy":
                sums[key] += value
    macro = figures["macro"]
    assert macro["classes"] == with_images, (name, macro)
    for key, total in sums.items():
        close(total / with_images, macro[key], f"{name} macro {key}")
    return top1, with_images

test, letters = j["sources"]
assert (test["name"], letters["name"]) == ("test", "letters")
assert test["images"] == 116 and letters["images"] == 51, (test["images"], letters["images"])
assert [f.rsplit("/", 2)[-2:] for f in letters["skipped_files"]] == [["B", "B1.jpg"]], letters["skipped_files"]
assert not [p for p in letters["predictions"] if p["path"].endswith("/B/B1.jpg")], "an unreadable file was scored"
right, averaged = check(test, test["predictions"], "test")
assert averaged == 29 and 0 < right < 116, (averaged, right)
_, averaged = check(letters, letters["predictions"], "letters")
assert averaged == 13, averaged
everything = test["predictions"] + letters["predictions"]
check(j["total"], everything, "total")
check(j, everything, "top level")
print(f"eval: top-1 {j['accuracy']:.4f}, top-5 {j['top5_accuracy']:.4f}, macro P/R/F1 {j['macro']['precision']:.4f} "
      f"{j['macro']['recall']:.4f} {j['macro']['f1']:.4f}: every figure recomputed from {len(everything)} predictions")

# The checkpoint's two spellings give the same answers.
assert load("positional.json") == j, "eval --checkpoint C and eval C disagree"
# --batch changes how images are grouped, not what is predicted.
b = load("batch7.json")
for source, other in zip(j["sources"], b["sources"]):
    assert [p["predicted"] for p in source["predictions"]] == [p["predicted"] for p in other["predictions"]]
    for p, q in zip(source["predictions"], other["predictions"]):
        assert abs(p["top5"][0]["probability"] - q["top5"][0]["probability"]) < 1e-5, (p, q)
assert b["confusion"] == j["confusion"] and b["device"].startswith("cpu"), b["device"]

# Every line but the first, which names the checkpoint's path, fits in 100 columns.
text = open(f"{work}/eval.txt").read().splitlines()
wide = [line for line in text[1:] if len(line) > 100]
assert not wide, f"eval --matrix prints lines over 100 columns: {wide}"
assert "columns: de = del, no = nothing, sp = space" in text, text[-3:]
print(f"eval text: {len(text)} lines, the widest after the first {max(map(len, text[1:]))} columns")
PY

# predict on a folder of JPEG and PNG files: natural order (img2 before img10), the same letters as one
# by one. The PNGs: with Python's PIL (Debian's python3-pil) when present, copies of synthetic photos;
# always, one written with the standard library's zlib.
photos="$work/photos"
mkdir -p "$photos"
cp "$work/test/A/A1.jpg" "$photos/img2.jpg"
cp "$work/test/Q/Q2.jpg" "$photos/img10.jpg"
/usr/bin/python3 - "$photos/img3.png" <<'PY'
import struct, sys, zlib
size = 48
# A bright disc on a dark background, in RGB, 8 bits: enough to be a picture the model must read.
rows = b"".join(b"\x00" + b"".join(
    bytes((200, 170, 150) if (x - 24) ** 2 + (y - 24) ** 2 < 300 else (20, 20, 30)) for x in range(size))
    for y in range(size))
chunk = lambda kind, data: struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)) + \
    chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
open(sys.argv[1], "wb").write(png)
PY
if /usr/bin/python3 -c 'import PIL' 2> /dev/null; then
  /usr/bin/python3 -c 'import sys; from PIL import Image; Image.open(sys.argv[1]).save(sys.argv[2])' \
    "$work/test/C/C3.jpg" "$photos/img1.png"
else
  echo "note: no python3-pil: the folder holds one PNG (written with zlib) instead of two"
fi
expected=$(cd "$photos" && ls | sort -V)
"$ASLNET" predict --checkpoint "$ckpt" "$photos" --batch 2 --top-k 3 --threads 2 --json > "$work/folder.json"
for f in $expected; do
  "$ASLNET" predict "$ckpt" "$photos/$f" --top-k 3 --threads 2 --json > "$work/one-$f.json"
done
# The text form names each image and its letters, one line each.
"$ASLNET" predict --checkpoint "$ckpt" "$photos" --device cpu --threads 2 > "$work/folder.txt"
[[ $(wc -l < "$work/folder.txt") == $(wc -w <<< "$expected") ]] || { cat "$work/folder.txt"; exit 1; }
/usr/bin/python3 - "$work" $expected <<'PY'
import json, sys
work, names = sys.argv[1], sys.argv[2:]
folder = json.load(open(f"{work}/folder.json"))
assert [r["image"].rsplit("/", 1)[-1] for r in folder] == names, ([r["image"] for r in folder], names)
for r, name in zip(folder, names):
    (alone,) = json.load(open(f"{work}/one-{name}.json"))
    assert "top" in r, r
    assert [t["class"] for t in r["top"]] == [t["class"] for t in alone["top"]], (name, r, alone)
    for t, u in zip(r["top"], alone["top"]):
        assert abs(t["probability"] - u["probability"]) < 1e-5, (name, t, u)
print(f"predict: {len(names)} images of a folder ({', '.join(names)}) read as one by one")
PY

# An unreadable file in a folder is named and skipped: --json keeps the others' answers; the text form
# prints them, then fails with one line naming it.
printf 'not a picture' > "$photos/img4.jpg"
"$ASLNET" predict --checkpoint "$ckpt" "$photos" --threads 2 --json > "$work/bad.json"
/usr/bin/python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
bad = [x for x in r if "error" in x]
assert len(bad) == 1 and bad[0]["image"].endswith("img4.jpg") and "is not a JPEG or PNG" in bad[0]["error"], bad
assert sum("top" in x for x in r) == len(r) - 1
' "$work/bad.json"
if "$ASLNET" predict --checkpoint "$ckpt" "$photos" --threads 2 > "$work/bad.txt" 2> "$work/err.txt"; then
  echo "predict passed over an unreadable file with status 0" >&2; exit 1
fi
grep -q "img4.jpg" "$work/err.txt" && [[ $(wc -l < "$work/err.txt") == 1 ]] || { cat "$work/err.txt"; exit 1; }

# Bad checkpoint arguments: one line each.
if "$ASLNET" predict "$ckpt" 2> "$work/err.txt"; then echo "predict ran with no image" >&2; exit 1; fi
grep -q "no IMAGE given" "$work/err.txt"
if "$ASLNET" eval --checkpoint "$ckpt" "$ckpt" "$work/test" 2> "$work/err.txt"; then
  echo "eval took the checkpoint twice" >&2; exit 1
fi
grep -q "the checkpoint is given twice" "$work/err.txt" && [[ $(wc -l < "$work/err.txt") == 1 ]]
echo "eval metrics recomputed; predict folders, PNG and --checkpoint ok"
