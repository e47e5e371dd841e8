#!/usr/bin/env bash
# The Debian package on a clean machine: cpack the CPU-only build's package, install it with apt into a
# fresh Debian 12 (a debootstrap minbase root, in a chroot) so that apt resolves its Depends from the
# archive alone, then run `aslnet --version` and a one-epoch `aslnet demo` (synthetic data) from it.
# This proves the Depends of cmake/install.cmake are complete and named right. A CUDA build's package
# needs NVIDIA's CUDA and cuDNN libraries, which no clean Debian has, so the script takes only a
# CPU-only build (ASLNET_CUDA=OFF: build-cpu, scripts/test-cpu-only.sh).
# Usage: scripts/check-deb-clean.sh BUILD_DIR
# Needs: root (debootstrap, chroot, mount), the Debian archive over the network, debootstrap (installed
# with apt-get when missing). Exits 77 with "skipped: deb-clean: REASON" when one is lacking.
# The minbase root (about 200 MB; debootstrap took 21 s to 5 min depending on the mirror) is cached in
# ASLNET_DEB_ROOT_CACHE (default /var/tmp/aslnet-deb/bookworm-minbase) and rebuilt when older than 7
# days; every run installs into a throwaway copy of it, so the cache stays clean. With the cache a run
# takes about 20 s (cpack 5 s, copy, apt-get update and install 10 s, demo 2 s).
# Environment: ASLNET_DEB_MIRROR (default: the bookworm entry of this machine's apt sources, else
# http://deb.debian.org/debian), ASLNET_DEB_ROOT_CACHE. Logs are kept in BUILD_DIR/deb-clean/.
set -euo pipefail
cd "$(dirname "$0")/.."

build=${1:?usage: scripts/check-deb-clean.sh BUILD_DIR (a CPU-only build, e.g. build-cpu)}
suite=bookworm
say() { echo "deb-clean: $*"; }
skip() { echo "skipped: deb-clean: $*"; exit 77; }
fail() { echo "deb-clean: FAILED: $*" >&2; exit 1; }

[[ -f $build/CPackConfig.cmake && -f $build/CMakeCache.txt ]] || fail "$build is not a configured CMake build folder"
build=$(cd "$build" && pwd)
if ! grep -q '^ASLNET_CUDA:BOOL=OFF$' "$build/CMakeCache.txt"; then
  echo "deb-clean: $build is a CUDA build: its package needs NVIDIA's CUDA and cuDNN libraries, which a clean" \
    "Debian does not have; give a CPU-only build (scripts/test-cpu-only.sh makes build-cpu)" >&2
  exit 2
fi
[[ $(id -u) -eq 0 ]] || skip "not root (debootstrap, chroot and mount need root)"
command -v cpack > /dev/null || skip "no cpack"
command -v chroot > /dev/null || skip "no chroot"

# The mirror: this machine's apt entry for the suite itself (not -updates or -security).
mirror_for() {  # SUITE: the URIs of the apt sources (deb) with exactly that suite
  local want=$1 f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -f $f ]] || continue
    sed -E 's/\[[^]]*\]//' "$f" | awk -v s="$want" '$1 == "deb" && $3 == s { print $2 }'
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f $f ]] || continue
    awk -v s="$want" 'function flush() { if (deb && uri != "" && (" " suites " ") ~ (" " s " ")) { print uri; found = 1 } }
      /^[[:space:]]*$/ { if (!found) flush(); deb = 0; uri = ""; suites = ""; next }
      /^Types:/ { deb = ($0 ~ /(^|[ \t])deb([ \t]|$)/) }
      /^URIs:/ { uri = $2 } /^Suites:/ { $1 = ""; suites = $0 } /^Enabled: *no/ { deb = 0 }
      END { if (!found) flush() }' "$f"
  done
}
mirror=${ASLNET_DEB_MIRROR:-$(mirror_for "$suite" | sed -n 1p)}
mirror=${mirror:-http://deb.debian.org/debian}
mirror=${mirror%/}
security=$(mirror_for "$suite-security" | sed -n 1p)

# The network: the suite's Release file from the mirror.
probe() {
  if command -v curl > /dev/null; then curl -fsS --max-time 20 -o /dev/null "$1"
  elif command -v wget > /dev/null; then wget -q -T 20 -O /dev/null "$1"
  else timeout 20 apt-get -q update > /dev/null 2>&1; fi
}
probe "$mirror/dists/$suite/Release" 2> /dev/null || skip "cannot reach $mirror (no network?)"

if ! command -v debootstrap > /dev/null; then
  say "installing debootstrap"
  { apt-get -q update && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends debootstrap; } \
    > /dev/null 2>&1 || skip "no debootstrap, and apt-get could not install it"
fi

out=$build/deb-clean
rm -rf "$out" && mkdir -p "$out/package"
total_start=$SECONDS

# 1. The package.
start=$SECONDS
(cd "$out" && cpack --config "$build/CPackConfig.cmake" -B "$out/package" > "$out/cpack.txt" 2>&1) ||
  { tail -20 "$out/cpack.txt"; fail "cpack (log: $out/cpack.txt)"; }
deb=$(ls "$out"/package/aslnet_*.deb)
say "package $(basename "$deb") in $((SECONDS - start)) s; Depends: $(dpkg-deb -f "$deb" Depends)"

# 2. The clean root, cached: debootstrap minbase once (a stamp marks a finished one), then copied.
cache=${ASLNET_DEB_ROOT_CACHE:-/var/tmp/aslnet-deb/$suite-minbase}
mkdir -p "$(dirname "$cache")"
exec 9> "$cache.lock"
flock 9
if [[ -f $cache.stamp ]] && [[ -n $(find "$cache.stamp" -mtime +7) ]]; then
  say "the cached root is older than 7 days: making it again"
  rm -f "$cache.stamp"
fi
if [[ ! -f $cache.stamp ]]; then
  say "debootstrap --variant=minbase $suite from $mirror into $cache"
  start=$SECONDS
  rm -rf "$cache"
  debootstrap --variant=minbase "$suite" "$cache" "$mirror" > "$out/debootstrap.txt" 2>&1 ||
    { tail -20 "$out/debootstrap.txt"; fail "debootstrap (log: $out/debootstrap.txt)"; }
  touch "$cache.stamp"
  say "debootstrap took $((SECONDS - start)) s"
else
  say "reusing the clean root $cache (from $(date -r "$cache.stamp" '+%F %R'))"
fi
root=$(mktemp -d "$(dirname "$cache")/work.XXXXXX")
cleanup() {
  if mountpoint -q "$root/proc"; then umount "$root/proc" || umount -l "$root/proc" || true; fi
  if mountpoint -q "$root/proc"; then
    echo "deb-clean: $root/proc is still mounted: $root left in place" >&2
  else
    rm -rf "$root"
  fi
}
trap cleanup EXIT
cp -a "$cache/." "$root/"
chmod 755 "$root"
flock -u 9
cp /etc/resolv.conf "$root/etc/resolv.conf" 2> /dev/null || true
{
  echo "deb $mirror $suite main"
  echo "deb $mirror $suite-updates main"
  if [[ -n $security ]]; then echo "deb ${security%/} $suite-security main"; fi
} > "$root/etc/apt/sources.list"
rm -f "$root"/etc/apt/sources.list.d/*
cp "$deb" "$root/tmp/"
mount -t proc proc "$root/proc"
in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
  DEBIAN_FRONTEND=noninteractive "$@"; }

# 3. apt installs the package and what its Depends name, from the archive alone (no Recommends).
start=$SECONDS
in_root apt-get -q update > "$out/apt.txt" 2>&1 || { tail -20 "$out/apt.txt"; fail "apt-get update in the clean root"; }
in_root apt-get install -y -q --no-install-recommends "/tmp/$(basename "$deb")" >> "$out/apt.txt" 2>&1 ||
  { tail -30 "$out/apt.txt"; fail "apt-get install of $(basename "$deb") into a clean $suite: its Depends are incomplete or wrong (cmake/install.cmake)"; }
say "apt-get installed it and $(grep -c '^Setting up' "$out/apt.txt") package(s) in $((SECONDS - start)) s"
missing=$(in_root ldd /usr/bin/aslnet | grep 'not found' || true)
[[ -z $missing ]] || fail "libraries the package does not depend on: $missing"

# 4. It runs.
in_root aslnet --version > "$out/version.txt" 2>&1 || { cat "$out/version.txt"; fail "aslnet --version"; }
grep -q '^built without CUDA (CPU only)$' "$out/version.txt" || { cat "$out/version.txt"; fail "aslnet --version does not say 'built without CUDA (CPU only)'"; }
grep -q 'openblas: *OpenBLAS' "$out/version.txt" || { cat "$out/version.txt"; fail "aslnet does not find OpenBLAS"; }
start=$SECONDS
in_root timeout 600 aslnet demo --epochs 1 --per-class 10 --image-size 32 --quiet --out /tmp/demo > "$out/demo.txt" 2>&1 ||
  { tail -30 "$out/demo.txt"; fail "aslnet demo in the clean root (log: $out/demo.txt)"; }
{ grep -q '^done in ' "$out/demo.txt" && [[ -f $root/tmp/demo/run/best.safetensors ]]; } ||
  { tail -30 "$out/demo.txt"; fail "aslnet demo did not finish"; }
[[ -f $root/usr/share/man/man1/aslnet.1 && -f $root/usr/share/bash-completion/completions/aslnet ]] ||
  fail "the man page or the bash completion is not installed"
say "aslnet --version and aslnet demo (1 epoch, $(grep -o '[0-9]* steps' "$out/demo.txt" | sed -n 1p)) ran in the clean root in $((SECONDS - start)) s"
say "passed in $((SECONDS - total_start)) s: $(basename "$deb") installs on a clean Debian 12 ($suite minbase) and runs"
