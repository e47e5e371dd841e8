#!/usr/bin/env bash
# Runs a user can keep track of, on synthetic hands: OUT/run.json records every option of `train --help`
# with the version, libraries, devices and data, and replays the same run through --config; a TOML
# --config file gives options that flags override; --resume with no other flag continues to the weights
# of an uninterrupted run, and refuses a contradicting option with both values; a folder holding a run
# is refused without --overwrite (its files untouched) and replaced with it; without --out each run gets
# a new folder under runs/ and runs/latest follows the newest; --version, info, help defaults and a
# typo's suggestion.
source "$(dirname "$0")/common.sh"
work="$WORK-run-management"
rm -rf "$work" && mkdir -p "$work"
data="$work/hands"
"$ASLNET" synth --out "$data" --per-class 6 --size 32 --seed 4 > /dev/null
tiny=(--device cpu --batch 16 --width 0.25 --image-size 32 --stem small --threads 2 --seed 5 --lr 0.05 --nesterov --split random
      --quiet)

fail() { echo "FAILED: $*" >&2; exit 1; }
# Runs a command that must fail; its stderr goes to $work/err.txt.
must_fail() { if "$@" > /dev/null 2> "$work/err.txt"; then fail "accepted: $*"; fi; }
expect_error() { grep -q -- "$1" "$work/err.txt" || fail "expected '$1' in the error, got: $(cat "$work/err.txt")"; }

# --- run.json holds every option of train --help, resolved, and the run's context ---
"$ASLNET" train "$data" "${tiny[@]}" --epochs 2 --out "$work/a"
"$ASLNET" train --help > "$work/help.txt"
/usr/bin/python3 - "$work/a/run.json" "$work/help.txt" <<'PY'
import json, re, sys
record = json.load(open(sys.argv[1]))
flags = set(re.findall(r"^\s+(?:-\w,)?--([a-z0-9-]+)", open(sys.argv[2]).read(), re.M))
per_invocation = {"help", "config", "resume", "overwrite", "out"}
missing = sorted(flags - per_invocation - set(record["options"]))
assert not missing, f"run.json lacks {missing}"
o = record["options"]
assert o["epochs"] == 2 and o["lr"] == 0.05 and o["nesterov"] is True and o["weight-decay"] == 0.0005, o
assert o["device"] == "cpu" and o["precision"] == "fp32", o
assert o["augment"] == "light" and o["rotation"] == 10 and o["optimizer"] == "sgd", o  # defaults, resolved
assert o["crop-scale"] == [0.35, 1], o["crop-scale"]
assert record["aslnet"]["version"] and record["aslnet"]["commit"], record["aslnet"]
assert {"cudnn", "nccl", "openblas", "libjpeg-turbo"} <= set(record["libraries"]), record["libraries"]
assert record["devices"]["replicas"] == 1, record["devices"]
train = record["data"]["train"]
assert len(train) == 1 and train[0]["images"] + record["data"]["validation"][0]["images"] == 29 * 6, record["data"]
print(f"run.json: {len(o)} options, every one of train --help's")
PY

# --- the record replays the same run: same options, same weights ---
"$ASLNET" train --config "$work/a/run.json" --out "$work/b"
/usr/bin/python3 - "$work/a/run.json" "$work/b/run.json" <<'PY'
import json, sys
a, b = (json.load(open(p))["options"] for p in sys.argv[1:])
assert a == b, {k: (a.get(k), b.get(k)) for k in a.keys() | b.keys() if a.get(k) != b.get(k)}
PY
same_weights "$work/a/last.safetensors" "$work/b/last.safetensors" || fail "--config run.json trained other weights"
echo "--config run.json: same options, same weights"

# --- a TOML file; the command line wins over it; its typos are named ---
cat > "$work/options.toml" <<EOF
# aslnet train options
data = ["$data"]
epochs = 5
width = 0.25
image-size = 32
stem = "small"
batch = 16
threads = 2
quiet = true
EOF
"$ASLNET" train --config "$work/options.toml" --epochs 1 --out "$work/toml"
[[ $(json_field "$work/toml/run.json" '["options"]["epochs"]') == 1 ]] || fail "the command line's --epochs lost"
[[ $(json_field "$work/toml/run.json" '["options"]["stem"]') == small ]] || fail "the file's stem lost"
printf 'epoch = 3\n' > "$work/typo.toml"
must_fail "$ASLNET" train "$data" --config "$work/typo.toml" --out "$work/typo"
expect_error "unknown option 'epoch' (did you mean --epochs?)"

# --- --resume alone continues the run to the weights of the uninterrupted one ---
"$ASLNET" train "$data" "${tiny[@]}" --epochs 2 --out "$work/c" --stop-after 7 || [[ $? == 130 ]]
[[ -f "$work/c/last.safetensors" ]] || fail "no checkpoint after --stop-after"
"$ASLNET" train --resume "$work/c/last.safetensors"
same_weights "$work/a/last.safetensors" "$work/c/last.safetensors" || fail "--resume alone reached other weights"
echo "--resume with no other flag: the uninterrupted run's weights"
must_fail "$ASLNET" train --resume "$work/c/last.safetensors" --lr 0.5 --epochs 3
expect_error "that run trained with --lr 0.05, not --lr 0.5"

# --- a folder holding a run: refused, untouched; replaced with --overwrite ---
before=$(md5sum "$work/a/last.safetensors")
touch "$work/a/best-ema.safetensors"  # as a run with --ema would have left
must_fail "$ASLNET" train "$data" "${tiny[@]}" --epochs 2 --out "$work/a"
expect_error "already holds files"
[[ $(md5sum "$work/a/last.safetensors") == "$before" ]] || fail "the refused run touched the old one"
"$ASLNET" train "$data" "${tiny[@]}" --epochs 1 --out "$work/a" --overwrite
[[ ! -e "$work/a/best-ema.safetensors" ]] || fail "--overwrite left the old run's best-ema beside the new run"
[[ $(json_field "$work/a/run.json" '["options"]["epochs"]') == 1 ]] || fail "--overwrite: run.json is the old run's"

# --- without --out: a new folder each run, runs/latest at the newest ---
(cd "$work" && "$ASLNET" train "$data" "${tiny[@]}" --epochs 1 && "$ASLNET" train "$data" "${tiny[@]}" --epochs 1)
must_fail bash -c "cd '$work' && '$ASLNET' train '$work/no-such-folder' --epochs 1"  # leaves no folder
runs=("$work"/runs/*-resnet18*)
(( ${#runs[@]} == 2 )) || fail "expected two run folders, got: ${runs[*]}"
[[ -L "$work/runs/latest" && $(readlink "$work/runs/latest") == "$(basename "${runs[1]}")" ]] ||
  fail "runs/latest does not point at the newest run"

# --- versions, help defaults, typos ---
grep -q "^aslnet [0-9].*commit" <<< "$("$ASLNET" --version)" || fail "--version"
grep -q "cudnn:" <<< "$("$ASLNET" info)" || fail "info shows no library versions"
grep -q -- "--epochs INT:a positive number=10" "$work/help.txt" || fail "train --help shows no default for --epochs"
must_fail "$ASLNET" train "$data" --epoch 3
expect_error "unknown option --epoch (did you mean --epochs?)"
must_fail "$ASLNET" trian
expect_error "unknown command trian (did you mean train?)"
echo "run management: all checks passed"
