#!/usr/bin/env bash
# Builds what the lent GPU machine runs and packs it for the device tool's `carry` (64 MiB at most for
# everything that travels). Runs HERE; scripts/gpu-check.sh unpacks and runs it THERE.
#
#   scripts/gpu-bundle.sh                 # Release build for sm_90 into build-gpu/, then pack
#   scripts/gpu-bundle.sh --no-build [--build-dir DIR]   # pack an existing build (DIR: default build-gpu)
#
# What goes in: aslnet, every test program (DIR/tests/test_*) and every benchmark program (DIR/bench/*),
# stripped; the shared libraries they load that the GPU machine lacks (what ldd resolves, through
# ../shared/tools/device-bundle.sh, which leaves out the C runtime and the CUDA family: that machine
# has its own), plus what the engine dlopen()s, which ldd cannot see: OpenBLAS (engine/core/cpu_blas.cpp)
# and its own dependencies; and device-env.sh. OpenBLAS alone is 36 MB, so the whole bundle travels as
# one xz archive, .devbundle/bundle.tar.xz, that gpu-check.sh unpacks (into /tmp, outside the repository).
set -euo pipefail
cd "$(dirname "$0")/.."

build=1
build_dir="build-gpu"
while [[ $# -gt 0 ]]; do
  case $1 in
    --no-build) build=0 ;;
    --build-dir) build_dir=$2; shift ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "gpu-bundle: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

if [[ $build == 1 ]]; then
  ASLNET_BUILD_DIR=$build_dir ASLNET_CUDA_ARCHS=90 scripts/build.sh
fi

# The programs: the command line, the test suites, the benchmarks.
bins=()
[[ -x $build_dir/aslnet ]] && bins+=("$build_dir/aslnet")
for f in "$build_dir"/tests/test_* "$build_dir"/bench/*; do
  [[ -f $f && -x $f && $f != *.* ]] && bins+=("$f")
done
[[ ${#bins[@]} -gt 0 ]] || { echo "gpu-bundle: no programs in $build_dir" >&2; exit 1; }

# A staging folder outside the repository; only the archive lands in .devbundle/.
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
../shared/tools/device-bundle.sh "$stage/devbundle" "${bins[@]}"
chmod u+w "$stage"/devbundle/bin/* "$stage"/devbundle/lib/* 2>/dev/null || true
strip --strip-unneeded "$stage"/devbundle/bin/*

# Libraries loaded with dlopen(): ldd does not list them. Resolve each name as the dynamic loader
# would (ldconfig's cache), copy the file it points to under that name, and add its own dependencies
# (same exclusions as device-bundle.sh: the C runtime and the CUDA family).
skip='^(linux-vdso|ld-linux|libc\.|libm\.|libdl\.|libpthread\.|librt\.|libgcc_s|libstdc\+\+|libcuda\.|libcudart|libcublas|libcudnn|libnccl|libnvrtc|libnvJitLink)'
dlopened=(libopenblas.so.0)
for name in "${dlopened[@]}"; do
  path=$(ldconfig -p | awk -v n="$name" '$1 == n && /x86-64/ && !found {print $NF; found = 1}')
  [[ -n $path && -e $path ]] || { echo "gpu-bundle: $name not found here (apt-get install libopenblas0)" >&2; exit 1; }
  cp -L "$path" "$stage/devbundle/lib/$name"
  ldd "$path" | awk '/=> \//{print $1, $3}' | while read -r dep dep_path; do
    [[ $dep =~ $skip || -e $stage/devbundle/lib/$dep ]] && continue
    cp -L "$dep_path" "$stage/devbundle/lib/$dep"
  done
done
chmod u+w "$stage"/devbundle/lib/*
strip --strip-unneeded "$stage"/devbundle/lib/* 2>/dev/null || true

# What was built, for the results file written there.
{
  echo "built_here=$(hostname) $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo '+dirty')"
  echo "nvcc=$(nvcc --version 2>/dev/null | grep -o 'release [0-9.]*' || /usr/local/cuda/bin/nvcc --version | grep -o 'release [0-9.]*')"
  echo "archs=90"
  echo "source_dir=$PWD"
} > "$stage/devbundle/BUILD_INFO"

rm -rf .devbundle
mkdir -p .devbundle
if command -v xz >/dev/null; then
  tar -C "$stage/devbundle" -cf - . | xz -9e -T2 > .devbundle/bundle.tar.xz
else
  echo "gpu-bundle: xz not found (apt-get install xz-utils)" >&2; exit 1
fi
echo "gpu-bundle: ${#bins[@]} programs, $(ls "$stage/devbundle/lib" | wc -l) libraries;" \
  "unpacked $(du -sh "$stage/devbundle" | cut -f1), archive .devbundle/bundle.tar.xz $(du -h .devbundle/bundle.tar.xz | cut -f1)"
total=$(du -sm .devbundle | cut -f1)
if (( total > 60 )); then
  echo "gpu-bundle: warning: the bundle is $total MiB; the device tool carries 64 MiB in all (working tree included)" >&2
fi
echo "run there:  scripts/gpu-check.sh   (carry: [\".devbundle\"])"
