// Mixup and CutMix over a whole batch, as timm's Mixup does in its "batch" mode: one lambda per batch
// drawn from Beta(alpha, alpha), and row i mixed with row B-1-i of the same batch (the batch reversed).
//   mixup:  image_i = lambda image_i + (1 - lambda) image_{B-1-i}
//   cutmix: a box of about (1 - lambda) of the area, clipped to the image, is pasted from row B-1-i,
//           and lambda becomes 1 - (box area) / (image area), the share of pixels the row kept.
// The targets are then lambda one_hot(label_i) + (1 - lambda) one_hot(label_{B-1-i}), unsmoothed: the
// loss smooths them (kernels/loss.h), which gives timm's mix of smoothed one-hot targets exactly.
//
// Determinism: every random choice comes from the Rng passed in (mix_rng below names one per batch), so
// a batch is mixed the same way whatever the loader's threads do.
#pragma once

#include <cstdint>

#include "engine/core/dtype.h"
#include "engine/core/rng.h"

namespace aslnet {

struct MixOptions {
  double mixup_alpha = 0.0;         // --mixup: Beta(alpha, alpha) of mixup's lambda; 0: no mixup
  double cutmix_alpha = 0.0;        // --cutmix: the same for cutmix; 0: no cutmix
  double probability = 1.0;         // --mixup-prob: chance that a batch is mixed at all
  double switch_probability = 0.5;  // --mixup-switch-prob: with both alphas > 0, chance of cutmix over mixup

  bool enabled() const { return mixup_alpha > 0.0 || cutmix_alpha > 0.0; }
  // Throws a one-line aslnet::Error naming the flag of a value out of range.
  void check() const;
};

// Gamma(shape, 1) by Marsaglia and Tsang's method (shape < 1 through Gamma(shape + 1) U^(1 / shape)),
// and Beta(a, b) = X / (X + Y) of two such draws.
double sample_gamma(double shape, Rng& rng);
double sample_beta(double a, double b, Rng& rng);

enum class MixKind { None, Mixup, CutMix };

// Rows [top, bottom) and columns [left, right) of the image: where cutmix pastes the partner's pixels.
struct MixBox {
  int top = 0, bottom = 0, left = 0, right = 0;
  int64_t area() const { return int64_t(bottom - top) * int64_t(right - left); }
};

// One batch's draw: what to do, the weight of each row's own image and label, and cutmix's box.
struct MixDecision {
  MixKind kind = MixKind::None;
  double lambda = 1.0;
  MixBox box;
};

// Draws the batch's mixing for images of size x size pixels (timm's order of draws: mixed at all,
// cutmix or mixup, lambda, then cutmix's box centre). A lambda of exactly 1 leaves the batch unmixed.
MixDecision draw_mix(const MixOptions& options, int size, Rng& rng);

// Applies `decision` to `rows` NHWC images of size x size x 3 in place (dtype f32, bf16 or u8; mixup
// computes in fp32 and rounds u8 to the nearest value), and writes `targets` (f32 [rows, classes], each
// row summing to 1; one-hot when unmixed) and each row's dominant label (its own on lambda >= 0.5, else
// its partner's). `dominant_labels` may be `labels` itself. Rows i and B-1-i trade content
// symmetrically, so each pair is mixed from its two original rows; a middle row (odd B) is its own
// partner and stays as it is.
void apply_mix(void* images, DType dtype, int64_t rows, int size, const int32_t* labels, int classes,
               float* targets, int32_t* dominant_labels, const MixDecision& decision);

// draw_mix then apply_mix: what the loader calls once per training batch when options.enabled().
void mix_batch(void* images, DType dtype, int64_t rows, int size, const int32_t* labels, int classes,
               float* targets, int32_t* dominant_labels, const MixOptions& options, Rng& rng);

// The random stream of batch `batch_index` of `epoch` for a run seeded with `seed`: distinct from the
// loader's per-sample streams, and the same whichever thread mixes the batch.
Rng mix_rng(uint64_t seed, int64_t epoch, int64_t batch_index);

}  // namespace aslnet
