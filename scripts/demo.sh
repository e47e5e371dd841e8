#!/usr/bin/env bash
# The main job on a fresh machine: install what is missing, build, and train a small ResNet on the CPU
# (aslnet demo), printing its falling loss. Extra arguments go to `aslnet demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh aslnet
"${ASLNET_BUILD_DIR:-build}/aslnet" demo "$@"
