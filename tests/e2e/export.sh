#!/usr/bin/env bash
# aslnet export: tiny models of both stems (one trained with --ema, so its checkpoint carries the EMA
# copy) export to ONNX and to weights-only safetensors. tests/e2e/export_check.py then checks the ONNX
# model with onnx.checker, runs it on PNG photos preprocessed as the README says (pixels / 255, no
# normalisation: it is folded in) and compares its probabilities with aslnet predict's on the same
# checkpoint and photos, to 1e-4 relative; the weights-only file must load into torchvision's ResNet and
# agree too, and predict from it exactly as the checkpoint does. Bad input gets one-line errors naming the
# file or flag. Skipped without Debian's python3-onnx, python3-torch(vision) and python3-pil
# (scripts/install-deps.sh --with-torch), unless ASLNET_REQUIRE_TORCH is set.
source "$(dirname "$0")/common.sh"
/usr/bin/python3 -c "import onnx, torch, torchvision, PIL, numpy" 2>/dev/null || {
  if [[ -n "${ASLNET_REQUIRE_TORCH:-}" && "${ASLNET_REQUIRE_TORCH}" != 0 ]]; then
    echo "python3-onnx, python3-torch, python3-torchvision or python3-pil missing" >&2; exit 1
  fi
  skip "python3-onnx, python3-torch, python3-torchvision or python3-pil not installed (scripts/install-deps.sh --with-torch)"
}
check="$(cd "$(dirname "$0")" && pwd)/export_check.py"
work="$WORK-export"
rm -rf "$work" && mkdir -p "$work"
"$ASLNET" synth --out "$work/train" --per-class 6 --size 48 --seed 3 --quiet
"$ASLNET" synth --out "$work/photos" --per-class 1 --size 48 --seed 9 --quiet

# Photos at evaluation's resize of a 32 px model, some not square (onnx_input.py photos says why).
/usr/bin/python3 "$(dirname "$0")/onnx_input.py" photos "$work/photos" "$work" \
  A:37x37 F:45x37 L:37x48 W:37x37 space:37x37
photos=("$work"/photo*.png)

for stem in small imagenet; do
  extra=()
  [[ $stem == small ]] && extra=(--ema 0.9)
  "$ASLNET" train "$work/train" --arch resnet18 --stem $stem --width 0.125 --image-size 32 --epochs 1 --batch 16 \
    --split random --out "$work/run-$stem" --quiet --threads 2 "${extra[@]}"
  ckpt="$work/run-$stem/last.safetensors"
  "$ASLNET" export "$ckpt" --format onnx "$work/$stem.onnx" --softmax | tee "$work/export-$stem.txt"
  grep -q "input  'input': float32 \[batch, 3, 32, 32\], RGB pixels in \[0, 1\]" "$work/export-$stem.txt"
  # The format follows OUT's extension when --format is not given.
  "$ASLNET" export "$ckpt" "$work/$stem-weights.safetensors" | tee "$work/weights-$stem.txt"
  grep -q "weights only" "$work/weights-$stem.txt"
  [[ $stem == small ]] && grep -q "of them the EMA copy" "$work/weights-$stem.txt"
  [[ $(stat -c %s "$work/$stem-weights.safetensors") -lt $(stat -c %s "$ckpt") ]]

  "$ASLNET" predict "$ckpt" "${photos[@]}" --top-k 29 --json --device cpu --threads 2 > "$work/predict-$stem.json"
  "$ASLNET" predict "$work/$stem-weights.safetensors" "${photos[@]}" --top-k 29 --json --device cpu --threads 2 \
    > "$work/predict-weights-$stem.json"
  # The same weights give the same answers, to the last digit (only the image paths are the same too).
  cmp "$work/predict-$stem.json" "$work/predict-weights-$stem.json"
  /usr/bin/python3 "$check" "$work/$stem.onnx" "$work/$stem-weights.safetensors" "$work/predict-$stem.json" \
    "${photos[@]}"
done
"$ASLNET" eval "$work/small-weights.safetensors" "$work/photos" --threads 2 > /dev/null

# Bad input: one line on stderr naming the file or flag, exit status non-zero, nothing written.
ckpt="$work/run-small/last.safetensors"
expect_error() {  # expect_error WORDS -- ARGS...: fails unless aslnet export ARGS fails with one line holding WORDS
  local words=$1
  shift 2
  if "$ASLNET" export "$@" > /dev/null 2> "$work/err.txt"; then echo "aslnet export $* succeeded" >&2; exit 1; fi
  # (CLI11's own parse errors add "Run with --help for more information.")
  [[ $(grep -vc "^Run with --help" "$work/err.txt") == 1 ]] && grep -qF -- "$words" "$work/err.txt" || {
    echo "aslnet export $*: expected an error naming '$words', got:" >&2; cat "$work/err.txt" >&2; exit 1; }
}
expect_error "$work/missing.safetensors" -- "$work/missing.safetensors" "$work/out.onnx"
expect_error "--format" -- "$ckpt" --format tflite "$work/out.onnx"
expect_error "--format" -- "$ckpt" "$work/out.bin"
expect_error "$work/no-such-folder/out.onnx" -- "$ckpt" "$work/no-such-folder/out.onnx"
expect_error "$work/no-such-folder/out.safetensors" -- "$ckpt" "$work/no-such-folder/out.safetensors"
expect_error "is the checkpoint itself" -- "$ckpt" --format safetensors "$ckpt"
expect_error "--softmax" -- "$ckpt" --softmax "$work/out.safetensors"
expect_error "$work/run-small/run.json" -- "$work/run-small/run.json" "$work/out.onnx"
[[ ! -e $work/out.onnx && ! -e $work/out.safetensors && ! -d $work/no-such-folder ]]
echo "export ok"
