#!/usr/bin/env bash
# Installs what aslnet needs from Debian 12's archive, skipping what is already there.
# Usage: scripts/install-deps.sh [--with-torch] [--with-browser]
#   --with-torch    also Debian's PyTorch, torchvision and Pillow (CPU): the references of the golden and
#                   JPEG tests and the peers of the benchmarks; and python3-onnx, whose checker the export
#                   test runs on aslnet's ONNX files; and Node.js with npm, which install onnxruntime-node
#                   (from the npm registry, into the build folder) for tests/e2e/export_onnxruntime.sh. A
#                   node and npm already on PATH (NodeSource's nodejs, which conflicts with Debian's npm)
#                   are kept.
#   --with-browser  also Chromium, its WebDriver and selenium (with numpy and Pillow): the browser test of
#                   aslnet serve's page (tests/e2e/serve_browser.sh).
# The CUDA toolkit (with cuDNN and NCCL) is not in Debian's archive: for the GPU backend it must already
# be in /usr/local/cuda (or wherever CUDACXX / PATH's nvcc points); without it aslnet builds CPU-only.
set -euo pipefail

# openmpi-bin looks for an ssh agent at start even for one machine; the replication tests find ranks with pgrep.
# dpkg-dev and file: cpack computes a CPU-only package's Depends with dpkg-shlibdeps; debootstrap: the
# package's install on a clean Debian 12 (scripts/check-deb-clean.sh). libdnnl-dev: oneDNN, the fast CPU
# kernels (optional to the build: without it, ASLNET_ONEDNN is OFF and only the reference kernels exist).
packages=(cmake make g++ pkg-config libgtest-dev libopenblas-dev libcli11-dev nlohmann-json3-dev libfmt-dev
  libturbojpeg0-dev zlib1g-dev libpng-dev libcpp-httplib-dev libopenmpi-dev openmpi-bin openssh-client procps
  libespeak-ng-dev libprotobuf-dev protobuf-compiler dpkg-dev file debootstrap libdnnl-dev)
for option in "$@"; do
  case "$option" in
    --with-torch) packages+=(python3-torch python3-torchvision python3-pil python3-onnx python3-numpy)
      command -v node > /dev/null && command -v npm > /dev/null || packages+=(nodejs npm) ;;
    --with-browser) packages+=(chromium chromium-driver python3-selenium python3-numpy python3-pil) ;;
    --with-fuzz) packages+=(clang libclang-rt-14-dev) ;;
    *) echo "usage: scripts/install-deps.sh [--with-torch] [--with-browser] [--with-fuzz] (not: $option)" >&2
       exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  grep -q "install ok installed" <<< "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  sudo_cmd=()
  [[ $(id -u) -ne 0 ]] && sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -q
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if ! command -v nvcc >/dev/null && [[ ! -x /usr/local/cuda/bin/nvcc ]] && [[ -z "${CUDACXX:-}" ]]; then
  echo "note: no CUDA toolkit (nvcc): aslnet will build without CUDA (CPU only); for the GPU backend install the toolkit and cuDNN under /usr/local/cuda" >&2
fi
