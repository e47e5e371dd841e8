#!/usr/bin/env bash
# Packs the photos the seed's experiment trains on into .devdata/asl-seed.tar, for a GPU machine that
# cannot see ../shared/data: the first N photos of every class of asl200-sample.tar (200 per class,
# 5,800 in all, 78 MB), N = 120 by default so that the archive (about 47 MB) and the build bundle fit a
# 64 MiB transfer together. Every class keeps its first N file numbers, so the subset is the same on
# every run. The results name the subset's size; on a machine that has the data, give
# `aslnet bench train` the full archive instead.
#   scripts/make-seed-data.sh [N] [ARCHIVE]
set -euo pipefail
cd "$(dirname "$0")/.."
per_class=${1:-120}
archive=${2:-${ASLNET_DATA:-../shared/data}/asl200-sample.tar}
[[ -f $archive ]] || { echo "make-seed-data: $archive not found (give it as the second argument)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tar -xf "$archive" -C "$work"
root=$work/asl_alphabet_train
[[ -d $root ]] || { echo "make-seed-data: $archive holds no asl_alphabet_train/" >&2; exit 1; }
for class in "$root"/*/; do
  # Keep the first N by file number (A1.jpg, A2.jpg, ...), delete the rest.
  ls "$class" | sort -t. -k1,1V | tail -n +"$((per_class + 1))" | while read -r f; do rm -f "$class/$f"; done
done
mkdir -p .devdata
tar -cf .devdata/asl-seed.tar -C "$work" asl_alphabet_train
echo "wrote .devdata/asl-seed.tar: $(find "$root" -name '*.jpg' | wc -l) photos, $(du -h .devdata/asl-seed.tar | cut -f1)"
