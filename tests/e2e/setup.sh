#!/usr/bin/env bash
# Fixture: extracts the real 200x200 sample (29 classes x 200 images) once per test run and trains the
# checkpoints the later end-to-end tests read: resnet18 (width 0.25, ImageNet stem) at 64 px on the
# random split, then the same on the grouped split. The recipe is chosen for 2 CPU cores (about 3 minutes
# a run). The photos are already framed on the hand, and a random resized crop (down to 35% of the
# area, cutting fingers off at 64 px) was the main brake: SGD with it reached 78% in 6 epochs, without
# it 91%. AdamW at 3e-3 converges faster still; flips and a mild colour jitter stay. Measured on 2
# cores: 95% validation accuracy on the random split (the test asks for 90%).
source "$(dirname "$0")/common.sh"
archive="$DATA_DIR/asl200-sample.tar"
# Only what this fixture makes: $WORK is also the parent of the tests that need no fixture
# ($WORK/eval_metrics, ...), which ctest may run beside this one; removing all of it pulled their
# folders from under them.
rm -rf "$WORK/no-data" "$WORK/asl_alphabet_train" "$WORK/random" "$WORK/grouped"
mkdir -p "$WORK"
if [[ ! -f "$archive" ]]; then
  touch "$WORK/no-data"
  skip "real ASL data not found at $archive (set ASLNET_DATA)"
fi
tar -xf "$archive" -C "$WORK"
train_dir="$WORK/asl_alphabet_train"
common=(--arch resnet18 --stem imagenet --width 0.25 --image-size 64 --batch 32 --epochs "${ASLNET_E2E_EPOCHS:-12}"
        --optimizer adamw --lr 0.003 --warmup-epochs 1 --label-smoothing 0.1 --no-crop --rotation 0 --jitter 0.1
        --seed 1 --quiet)
"$ASLNET" train "$train_dir" --split random --out "$WORK/random" "${common[@]}"
"$ASLNET" train "$train_dir" --split grouped --out "$WORK/grouped" "${common[@]}"
echo "fixture ready in $WORK"
