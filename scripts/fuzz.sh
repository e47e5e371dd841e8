#!/usr/bin/env bash
# Fuzzes what users and clients can feed aslnet: serve's image upload path (JPEG, PNG, anything), the
# safetensors reader behind every checkpoint, the checkpoint metadata reader after it, and serve's whole
# request handling (tests/fuzz/http.cpp; it needs scripts/build.sh's libraries), with libFuzzer under
# AddressSanitizer and UndefinedBehaviorSanitizer (clang; scripts/install-deps.sh --with-fuzz installs it).
#   scripts/fuzz.sh [SECONDS]   each target for SECONDS (default 60), from the committed seed corpus in
#                               tests/fuzz/corpus/<target>/; exits non-zero on any finding, whose input is
#                               kept as $ASLNET_BUILD_DIR/fuzz/crash-<target>-* (turn it into a regression test).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
build=${ASLNET_BUILD_DIR:-build}
out=$build/fuzz
mkdir -p "$out"
# The headers read ASLNET_CUDA (engine/core/build_config.h): the build's own value, as CMake defines it.
cuda=$(sed -n 's/^ASLNET_CUDA:BOOL=//p' "$build/CMakeCache.txt")
[[ $cuda == ON ]] && cuda=1 || cuda=0
flags=(-std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -I. "-DASLNET_CUDA=$cuda")
core="engine/core/error.cpp engine/core/regular_file.cpp"
# The readers are built from their own sources. The server's request handling needs the whole engine
# behind it: its own code (serve/) is compiled here, instrumented, and linked against the libraries of
# the build scripts/build.sh made (not instrumented for coverage; AddressSanitizer still sees their heap).
engine_libs="-Wl,--start-group"
for lib in models translate data engine kernels core; do engine_libs+=" $build/libaslnet_$lib.a"; done
engine_libs+=" -Wl,--end-group"
((cuda)) && engine_libs+=" -L/usr/local/cuda/lib64 -Wl,-rpath,/usr/local/cuda/lib64 -lcudart -lcublas -lcudnn"
# The fast CPU convolutions (kernels/onednn/), where the build has them: oneDNN and its OpenMP runtime.
[[ $(sed -n 's/^ASLNET_ONEDNN:BOOL=//p' "$build/CMakeCache.txt") == ON ]] && engine_libs+=" -ldnnl -lgomp"
declare -A sources=(
  [upload]="tests/fuzz/upload.cpp serve/image_input.cpp data/jpeg.cpp data/png_decode.cpp $core"
  [safetensors]="tests/fuzz/safetensors.cpp engine/safetensors.cpp $core"
  [checkpoint_meta]="tests/fuzz/checkpoint_meta.cpp engine/checkpoint_meta.cpp engine/safetensors.cpp $core"
  [http]="tests/fuzz/http.cpp $(echo serve/*.cpp) $build/generated/page_html.cpp -I/usr/local/cuda/include"
)
declare -A libs=([upload]="-lturbojpeg -lpng -lz" [safetensors]="-lz -lfmt" [checkpoint_meta]="-lz -lfmt"
  [http]="$engine_libs -lturbojpeg -lpng -lz -lfmt -lcpp-httplib -lespeak-ng -ldl -lpthread")
status=0
for target in upload safetensors checkpoint_meta http; do
  # shellcheck disable=SC2086 # word splitting of the source and library lists is intended
  clang++ "${flags[@]}" ${sources[$target]} ${libs[$target]} -o "$out/fuzz-$target"
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
