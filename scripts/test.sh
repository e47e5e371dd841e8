#!/usr/bin/env bash
# Every test on a fresh machine: install what is missing (PyTorch for the golden tests, Chromium for the
# browser test of aslnet serve), build, run every test suite through ctest, and list each skipped test
# with its reason.
# ASLNET_REQUIRE_GPU=1 / ASLNET_REQUIRE_DATA=1 / ASLNET_REQUIRE_TORCH=1 turn the matching skips into failures.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --with-torch --with-browser
scripts/build.sh
build_dir=${ASLNET_BUILD_DIR:-build}

status=0
(cd "$build_dir" && ctest --output-on-failure -j "$(nproc)") || status=$?
scripts/print-skips.sh "$build_dir/Testing/Temporary/LastTest.log"
exit $status
