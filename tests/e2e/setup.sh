#!/usr/bin/env bash
# Fixture: extracts the real 200x200 sample (29 classes x 200 images) once per test run and trains the
# checkpoints the later end-to-end tests read: resnet18 (width 0.5) at 64 px on the random split, then
# the same on the grouped split.
source "$(dirname "$0")/common.sh"
archive="$DATA_DIR/asl200-sample.tar"
rm -rf "$WORK"
mkdir -p "$WORK"
if [[ ! -f "$archive" ]]; then
  touch "$WORK/no-data"
  skip "real ASL data not found at $archive (set ASLNET_DATA)"
fi
tar -xf "$archive" -C "$WORK"
train_dir="$WORK/asl_alphabet_train"
common=(--arch resnet18 --width 0.5 --image-size 64 --batch 32 --epochs "${ASLNET_E2E_EPOCHS:-6}" --lr 0.05
        --warmup-epochs 1 --label-smoothing 0.1 --seed 1 --quiet)
"$ASLNET" train "$train_dir" --split random --out "$WORK/random" "${common[@]}"
"$ASLNET" train "$train_dir" --split grouped --out "$WORK/grouped" "${common[@]}"
echo "fixture ready in $WORK"
