#!/usr/bin/env bash
# aslnet export in an independent runtime: tiny models of both stems, exported to ONNX with --softmax, run
# in onnxruntime-node (Microsoft's onnxruntime, CPU, from the npm registry; its linux-x64 library is in
# the npm tarball, so its postinstall download is skipped) on photos prepared as the README says, give
# the probabilities of aslnet predict on the same checkpoint and photos, to 1e-4 relative to the logits
# (tests/e2e/onnx_input.py prepares the input and measures, as tests/e2e/export_check.py does).
# Needs node and npm (scripts/install-deps.sh --with-torch) and Debian's python3-numpy and python3-pil;
# the first run installs onnxruntime-node@$version into $ASLNET_ONNXRUNTIME_NODE_DIR (default: the build
# folder's onnxruntime-node-$version; about 5 s and 290 MB), later runs reuse it. Skipped without them
# (or when the npm registry cannot be reached), unless ASLNET_REQUIRE_TORCH is set.
source "$(dirname "$0")/common.sh"
here="$(cd "$(dirname "$0")" && pwd)"
version=1.30.0
package_dir=${ASLNET_ONNXRUNTIME_NODE_DIR:-$(dirname "$WORK")/onnxruntime-node-$version}
missing() {
  if [[ -n "${ASLNET_REQUIRE_TORCH:-}" && "${ASLNET_REQUIRE_TORCH}" != 0 ]]; then
    echo "FAILED: $1 (and ASLNET_REQUIRE_TORCH is set)" >&2; exit 1
  fi
  skip "$1"
}
command -v node > /dev/null || missing "node not installed (scripts/install-deps.sh --with-torch)"
/usr/bin/python3 -c "import numpy, PIL" 2>/dev/null || missing "python3-numpy or python3-pil not installed"
if [[ ! -f $package_dir/node_modules/onnxruntime-node/package.json ]]; then
  command -v npm > /dev/null || missing "npm not installed (scripts/install-deps.sh --with-torch)"
  # Into a temporary folder first, so an interrupted install leaves nothing that looks installed.
  tmp="$package_dir.tmp.$$"
  rm -rf "$tmp" && mkdir -p "$tmp"
  start=$SECONDS
  if ! ONNXRUNTIME_NODE_INSTALL=skip npm install --prefix "$tmp" --ignore-scripts --no-audit --no-fund \
      --fetch-retries=1 "onnxruntime-node@$version" > "$tmp.log" 2>&1; then
    error=$(grep -m1 -i "err" "$tmp.log" || tail -n1 "$tmp.log")
    rm -rf "$tmp" "$tmp.log"
    missing "npm install onnxruntime-node@$version failed: $error"
  fi
  rm -f "$tmp.log"
  mv -T "$tmp" "$package_dir" 2>/dev/null || rm -rf "$tmp"   # (a parallel run may have won)
  echo "installed onnxruntime-node@$version into $package_dir in $((SECONDS - start)) s"
fi
loaded=$(cd / && node -e "console.log(require(process.argv[1]).env.versions.node)" \
  "$package_dir/node_modules/onnxruntime-node" 2>&1) ||
  missing "onnxruntime-node does not load in node $(node --version): $(head -n1 <<< "$loaded")"
[[ $loaded == "$version" ]] || { echo "$package_dir holds onnxruntime-node $loaded, not $version" >&2; exit 1; }

work="$WORK-export-onnxruntime"
rm -rf "$work" && mkdir -p "$work"
"$ASLNET" synth --out "$work/train" --per-class 4 --size 32 --seed 1 --quiet
"$ASLNET" synth --out "$work/photos" --per-class 1 --size 48 --seed 9 --quiet
# Photos at evaluation's resize of a 32 px model, some not square (onnx_input.py photos says why).
/usr/bin/python3 "$(dirname "$0")/onnx_input.py" photos "$work/photos" "$work" \
  B:37x37 G:44x37 M:37x49 Y:37x37 nothing:37x37 del:52x37
photos=("$work"/photo*.png)

for stem in small imagenet; do
  "$ASLNET" train "$work/train" --device cpu --arch resnet18 --stem $stem --width 0.125 --image-size 32 --epochs 1 \
    --batch 16 --split random --out "$work/run-$stem" --quiet --threads 2
  ckpt="$work/run-$stem/last.safetensors"
  "$ASLNET" export "$ckpt" --format onnx "$work/$stem.onnx" --softmax > "$work/export-$stem.txt"
  "$ASLNET" predict "$ckpt" "${photos[@]}" --top-k 29 --json --device cpu --threads 2 > "$work/predict-$stem.json"
  read -r n channels s _ < <(/usr/bin/python3 "$here/onnx_input.py" prepare "$ckpt" "$work/input-$stem.f32" \
    "${photos[@]}")
  [[ $n == "${#photos[@]}" && $channels == 3 && $s == 32 ]]
  node "$here/export_onnxruntime.mjs" "$package_dir" "$work/$stem.onnx" "$work/input-$stem.f32" "$n" "$s" \
    "$work/logits-$stem.json"
  /usr/bin/python3 "$here/onnx_input.py" compare "onnxruntime-node $version ($stem stem)" "$ckpt" \
    "$work/logits-$stem.json" "$work/predict-$stem.json" "${photos[@]}"
done
echo "export_onnxruntime ok"
