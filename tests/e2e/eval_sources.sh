#!/usr/bin/env bash
# aslnet eval on sources that hold some classes only, several sources and --by-origin, with test-time
# augmentation and the misread contact sheet; predict and translate with --tta. Needs no real data: a
# tiny model trains for one epoch on synthetic hands, then is evaluated on a "real-world-like" folder
# made of other synthetic hands named <origin>_<n>.jpg in the 26 letter folders (origin beta lacks D and
# G; del/ is an empty class folder; nothing/ and space/ are absent), as the real dev set is laid out.
source "$(dirname "$0")/common.sh"
work="$WORK-eval-sources"
rm -rf "$work" && mkdir -p "$work"
"$ASLNET" synth --out "$work/train" --per-class 6 --size 48 --seed 3 --quiet
"$ASLNET" train "$work/train" --arch resnet18 --stem small --width 0.125 --image-size 32 --epochs 1 --batch 16 \
  --split random --out "$work/run" --quiet --threads 2
ckpt="$work/run/last.safetensors"
[[ -f $ckpt ]] || { echo "training wrote no $ckpt" >&2; exit 1; }
"$ASLNET" synth --out "$work/synth" --per-class 4 --size 48 --seed 9 --quiet
real="$work/real"
for letter in A B C D E F G H I J K L M N O P Q R S T U V W X Y Z; do
  mkdir -p "$real/$letter"
  cp "$work/synth/$letter/${letter}1.jpg" "$real/$letter/alpha_1.jpg"
  cp "$work/synth/$letter/${letter}2.jpg" "$real/$letter/alpha_2.jpg"
  if [[ $letter != D && $letter != G ]]; then
    cp "$work/synth/$letter/${letter}3.jpg" "$real/$letter/beta_1.jpg"
    cp "$work/synth/$letter/${letter}4.jpg" "$real/$letter/beta_2.jpg"
  fi
done
mkdir -p "$real/del"  # an empty class folder: skipped with a note

# One source: 100 images of 26 classes; the restricted accuracy never predicts del/nothing/space.
"$ASLNET" eval "$ckpt" "$real" --threads 2 | tee "$work/one.txt"
grep -q "note: real: 1 class folder(s) without images skipped: del" "$work/one.txt"
grep -q "never del nothing space" "$work/one.txt"
[[ $(wc -l < "$work/one.txt") -lt 15 ]] || { echo "eval's text is not compact" >&2; exit 1; }
"$ASLNET" eval "$ckpt" "$real" --threads 2 --json --csv "$work/one.csv" > "$work/one.json"
[[ $(wc -l < "$work/one.csv") == 30 ]] || { echo "the confusion CSV should have 30 lines" >&2; exit 1; }

# --by-origin: alpha (52 images, 26 classes) and beta (48, 24 classes); the parts add up to the total.
"$ASLNET" eval "$ckpt" "$real" --by-origin --threads 2 | tee "$work/origins.txt"
grep -q "note: beta: 3 class folder(s) without images skipped: D, G, del" "$work/origins.txt"
"$ASLNET" eval "$ckpt" "$real" --by-origin --threads 2 --json > "$work/origins.json"
# Two sources named on the command line (NAME=DIR@ORIGIN) report as --by-origin does.
"$ASLNET" eval "$ckpt" "first=$real@alpha" "$real@beta" --threads 2 --json > "$work/two.json"
for tta in flip crops; do
  "$ASLNET" eval "$ckpt" "$real" --tta $tta --threads 2 --json --misread-png "$work/misread-$tta.png" --misread-max 5 \
    > "$work/tta-$tta.json"
done
/usr/bin/python3 - "$work" <<'PY'
import json, struct, sys
work = sys.argv[1]
load = lambda name: json.load(open(f"{work}/{name}"))
one, origins, two = load("one.json"), load("origins.json"), load("two.json")
letters = [chr(c) for c in range(ord("A"), ord("Z") + 1)]
assert one["images"] == 100 and len(one["sources"]) == 1, one["images"]
assert one["restricted_classes"] == letters, one["restricted_classes"]
assert one["restricted_accuracy"] >= one["accuracy"] - 1e-12
assert sorted(one["per_class"]) == letters and all(one["per_class"][c]["count"] == (2 if c in "DG" else 4) for c in letters)
assert [s["name"] for s in origins["sources"]] == ["alpha", "beta"], [s["name"] for s in origins["sources"]]
alpha, beta = origins["sources"]
assert (alpha["images"], beta["images"]) == (52, 48)
assert len(alpha["restricted_classes"]) == 26 and len(beta["restricted_classes"]) == 24
assert [p.rsplit("/", 1)[-1] for p in beta["empty_class_folders"]] == ["D", "G", "del"], beta["empty_class_folders"]
for key in ("images", "correct"):
    assert alpha[key] + beta[key] == origins["total"][key] == one[key], key
assert sum(alpha["confusion"][i] + beta["confusion"][i] for i in range(29 * 29)) == 100
assert abs(origins["total"]["accuracy"] - one["accuracy"]) < 1e-12
assert [s["name"] for s in two["sources"]] == ["first", "beta"]
assert [s["images"] for s in two["sources"]] == [52, 48] and two["total"]["correct"] == one["correct"]
for tta, views in (("flip", 2), ("crops", 6)):
    j = load(f"tta-{tta}.json")
    assert j["tta"] == tta and len(j["views"]) == views and j["images"] == 100, (tta, j["views"])
    tiles = j["misread_png"]["photos"]
    wrong = 100 - j["correct"]
    assert tiles == min(5, wrong), (tiles, wrong)
    png = open(f"{work}/misread-{tta}.png", "rb").read()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    # report/contact_sheet.h's layout: 120-pixel thumbnails 130 apart, 165 down, a 34-pixel title band.
    title = f"{tiles} OF {wrong} MISREAD (100 PHOTOS), MOST CONFIDENT FIRST" if wrong else "NO MISREADS IN 100 PHOTOS"
    columns = max(1, min(8, tiles))
    rows = (tiles + columns - 1) // columns
    want_w = max(20 + columns * 130 - 10, 20 + len(title) * 12)
    want_h = 34 + rows * 165 if rows else 34
    assert (width, height) == (want_w, want_h), ((width, height), (want_w, want_h))
print(f"eval: one source {one['accuracy']:.2f} (restricted {one['restricted_accuracy']:.2f}), origins add up, tta ok")
PY

# predict and translate take --tta: every mode gives a distribution over the 29 classes.
for tta in none flip crops; do
  "$ASLNET" predict "$ckpt" "$real/A/alpha_1.jpg" "$real/B/beta_2.jpg" --tta $tta --top-k 29 --json \
    > "$work/predict-$tta.json"
done
"$ASLNET" translate --checkpoint "$ckpt" "$real/A" --tta crops --batch 3 --threads 2 --json > "$work/translate.json"
/usr/bin/python3 - "$work" <<'PY'
import json, sys
work = sys.argv[1]
for tta in ("none", "flip", "crops"):
    r = json.load(open(f"{work}/predict-{tta}.json"))
    assert len(r) == 2 and all(abs(sum(t["probability"] for t in x["top"]) - 1) < 1e-6 for x in r), r
t = json.load(open(f"{work}/translate.json"))
assert t["frames"] == 4 and len(t["per_frame"]) == 4, t
PY

# Bad input: one line naming the flag or the folder.
if "$ASLNET" eval "$ckpt" "$real" --tta tencrop 2> "$work/err.txt"; then echo "eval accepted --tta tencrop" >&2; exit 1; fi
grep -q -- "--tta" "$work/err.txt"
if "$ASLNET" eval "$ckpt" "$work/missing" 2> "$work/err.txt"; then echo "eval accepted a missing folder" >&2; exit 1; fi
grep -q "missing" "$work/err.txt"
[[ $(wc -l < "$work/err.txt") == 1 ]] || { echo "eval's error on a missing folder is not one line" >&2; exit 1; }
if "$ASLNET" eval "$ckpt" "$real" "$real" 2> "$work/err.txt"; then echo "eval accepted two sources of one name" >&2; exit 1; fi
grep -q "two sources are named 'real'" "$work/err.txt"
echo "eval sources, --by-origin, --tta and --misread-png ok"
