#!/usr/bin/env bash
# Fuzzes what users and clients can feed aslnet: serve's image upload path (JPEG, PNG, anything), the
# safetensors reader behind every checkpoint and the checkpoint metadata reader after it, with libFuzzer
# under AddressSanitizer and UndefinedBehaviorSanitizer (clang; scripts/install-deps.sh --with-fuzz installs it).
#   scripts/fuzz.sh [SECONDS]   each target for SECONDS (default 60), from the committed seed corpus in
#                               tests/fuzz/corpus/<target>/; exits non-zero on any finding, whose input is
#                               kept as $ASLNET_BUILD_DIR/fuzz/crash-<target>-* (turn it into a regression test).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
out=${ASLNET_BUILD_DIR:-build}/fuzz
mkdir -p "$out"
flags=(-std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -I.)
core=(engine/core/error.cpp engine/core/regular_file.cpp)
declare -A sources=(
  [upload]="tests/fuzz/upload.cpp serve/image_input.cpp data/jpeg.cpp data/png_decode.cpp"
  [safetensors]="tests/fuzz/safetensors.cpp engine/safetensors.cpp"
  [checkpoint_meta]="tests/fuzz/checkpoint_meta.cpp engine/checkpoint_meta.cpp engine/safetensors.cpp"
)
declare -A libs=([upload]="-lturbojpeg -lpng -lz" [safetensors]="-lz -lfmt" [checkpoint_meta]="-lz -lfmt")
status=0
for target in upload safetensors checkpoint_meta; do
  # shellcheck disable=SC2086 # word splitting of the source and library lists is intended
  clang++ "${flags[@]}" ${sources[$target]} "${core[@]}" ${libs[$target]} -o "$out/fuzz-$target"
  corpus="$out/corpus-$target"
  rm -rf "$corpus" && cp -r "tests/fuzz/corpus/$target" "$corpus"
  echo "fuzzing $target for ${seconds}s from $(ls "tests/fuzz/corpus/$target" | wc -l) seed(s)"
  if ! "$out/fuzz-$target" "$corpus" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
      -artifact_prefix="$out/crash-$target-" -print_final_stats=1 > "$out/$target.log" 2>&1; then
    echo "FINDING in $target:"; tail -n 40 "$out/$target.log"; status=1
    continue
  fi
  # The last status line (coverage, corpus, exec/s) and the totals.
  { grep -E "DONE|stat::number_of_executed_units|stat::average_exec_per_sec" "$out/$target.log" || true; } |
    tail -n 3 | sed "s/^/  $target: /"
done
exit $status
