#!/usr/bin/env bash
# The CPU-only build (ASLNET_CUDA=OFF) and its tests: proves that aslnet configures, builds and runs
# with no CUDA toolkit, cuDNN or NCCL in sight. CMake is run with the toolkit hidden (no nvcc on PATH, no
# CUDACXX, find_package(CUDAToolkit) disabled, ASLNET_CUDA left to its default), so the configure step
# itself shows that nothing looks for CUDA where it is absent; the build is -Werror clean like CI's.
#   Run: every test of the build but those below. Its GPU tests skip with "built without CUDA" (they
#        would fail under ASLNET_REQUIRE_GPU=1, which this stage therefore leaves to the main one); the
#        *_cuda.cpp files are not compiled.
#   Excluded, for time (the CPU code is the same in both builds, and the main stage of scripts/test.sh
#        runs these there): the e2e fixture that trains on the real sample (e2e.setup, about 11 minutes
#        on 2 cores) and the tests that need its checkpoints; the tests that train a ResNet for minutes
#        or compare with PyTorch (Synth.*, Golden*); test_replication_mpi (e2e.replication runs mpirun
#        -np 2 with this build's binary).
#   Then the Debian package on a clean machine (scripts/check-deb-clean.sh): cpack this build's package,
#        install it with apt into a fresh debootstrap minbase Debian 12 and run aslnet demo from it. It
#        skips (exit 77, a "skipped: deb-clean" line) when not root or without the archive's network;
#        ASLNET_REQUIRE_DEB_CHECK=1 turns that skip into a failure, ASLNET_DEB_CHECK=0 leaves it out.
# Measured on 2 cores from a clean tree without ccache: build 12.5 min, tests 1.5 min, package check
# 70 s with debootstrap (about 20 s when its root is cached in /var/tmp/aslnet-deb) (the last line prints
# all three), which keeps the whole of .ci/run near 42 minutes.
# Environment: ASLNET_CPU_BUILD_DIR (default build-cpu).
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir=${ASLNET_CPU_BUILD_DIR:-build-cpu}
werror=OFF
[[ "${CI:-}" == "true" ]] && werror=ON
# A PATH without the CUDA toolkit's bin folders.
path=$(tr ':' '\n' <<<"$PATH" | grep -v -i cuda | paste -sd: -)
fixture='^e2e\.(setup|random_split_accuracy|eval_predict|resume|translate|serve_api|serve_load|serve_browser)$'
excluded="$fixture|^Synth\.|^Golden|^replication_mpi$"

start=$SECONDS
env -u CUDACXX PATH="$path" cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release "-DASLNET_WERROR=$werror" \
  -DCMAKE_DISABLE_FIND_PACKAGE_CUDAToolkit=ON >/dev/null
grep -q '^ASLNET_CUDA:BOOL=OFF$' "$build_dir/CMakeCache.txt" || { echo "test-cpu-only: $build_dir is not a CPU-only build (ASLNET_CUDA is on): remove it" >&2; exit 1; }
env -u CUDACXX PATH="$path" cmake --build "$build_dir" -j "$(nproc)"
build_seconds=$((SECONDS - start))

start=$SECONDS
status=0
grep -q '^built without CUDA (CPU only)$' <<< "$("$build_dir/aslnet" --version)" || { echo "test-cpu-only: aslnet --version does not say 'built without CUDA (CPU only)'" >&2; status=1; }
# ASLNET_REQUIRE_GPU is for the build that can use a GPU (the main stage): here every GPU test would fail.
(cd "$build_dir" && env -u ASLNET_REQUIRE_GPU ctest --output-on-failure -j "$(nproc)" -E "$excluded") || status=1
scripts/print-skips.sh "$build_dir/Testing/Temporary/LastTest.log"
test_seconds=$((SECONDS - start))

start=$SECONDS
deb="package check left out (ASLNET_DEB_CHECK=0)"
if [[ ${ASLNET_DEB_CHECK:-1} != 0 ]]; then
  deb_status=0
  env -u CUDACXX PATH="$path" scripts/check-deb-clean.sh "$build_dir" || deb_status=$?
  deb_seconds=$((SECONDS - start))
  deb="package check $((deb_seconds / 60))m$((deb_seconds % 60))s"
  if ((deb_status == 77)); then
    deb="package check skipped"
    if [[ ${ASLNET_REQUIRE_DEB_CHECK:-0} == 1 ]]; then
      echo "test-cpu-only: the package check skipped under ASLNET_REQUIRE_DEB_CHECK=1" >&2
      status=1
    fi
  elif ((deb_status != 0)); then
    status=1
  fi
fi
echo "cpu-only: build $((build_seconds / 60))m$((build_seconds % 60))s, tests $((test_seconds / 60))m$((test_seconds % 60))s, $deb"
exit $status
