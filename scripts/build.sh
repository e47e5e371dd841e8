#!/usr/bin/env bash
# Configures and builds aslnet. Usage: scripts/build.sh [make targets...]
# Environment: ASLNET_BUILD_DIR (default: build), ASLNET_CUDA_ARCHS (default: 80;90),
#              CI=true turns compiler warnings into errors.
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir=${ASLNET_BUILD_DIR:-build}
archs=${ASLNET_CUDA_ARCHS:-80;90}
werror=OFF
[[ "${CI:-}" == "true" ]] && werror=ON

cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release "-DCMAKE_CUDA_ARCHITECTURES=$archs" "-DASLNET_WERROR=$werror" >/dev/null
cmake --build "$build_dir" -j "$(nproc)" ${1:+--target "$@"}
