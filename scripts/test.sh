#!/usr/bin/env bash
# Every test on a fresh machine: install what is missing (PyTorch for the golden tests, Chromium for the
# browser test of aslnet serve), build, run every test suite through ctest, and list each skipped test
# with its reason; then run the CPU code's test suites again under AddressSanitizer and
# UndefinedBehaviorSanitizer (scripts/sanitize.sh, its own build in build-asan; ASLNET_SANITIZE_TESTS=0
# skips it); then build and test the CPU-only build, configured with the CUDA toolkit hidden
# (scripts/test-cpu-only.sh, its own build in build-cpu; ASLNET_CPU_ONLY_TESTS=0 skips it); then fuzz the
# upload path and the checkpoint reader for ASLNET_FUZZ_SECONDS each (default 60; 0 skips it:
# scripts/fuzz.sh).
# ASLNET_REQUIRE_GPU=1 / ASLNET_REQUIRE_DATA=1 / ASLNET_REQUIRE_TORCH=1 turn the matching skips into failures.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --with-torch --with-browser --with-fuzz
scripts/build.sh
build_dir=${ASLNET_BUILD_DIR:-build}

status=0
(cd "$build_dir" && ctest --output-on-failure -j "$(nproc)") || status=$?
scripts/print-skips.sh "$build_dir/Testing/Temporary/LastTest.log"
if [[ ${ASLNET_SANITIZE_TESTS:-1} != 0 ]]; then
  scripts/sanitize.sh || status=1
fi
if [[ ${ASLNET_CPU_ONLY_TESTS:-1} != 0 ]]; then
  scripts/test-cpu-only.sh || status=1
fi
fuzz_seconds=${ASLNET_FUZZ_SECONDS:-60}
if [[ $fuzz_seconds != 0 ]]; then
  ASLNET_BUILD_DIR=$build_dir scripts/fuzz.sh "$fuzz_seconds" || status=1
fi
exit $status
