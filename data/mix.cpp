#include "data/mix.h"

#include <algorithm>
#include <cmath>

#include "engine/core/error.h"

namespace aslnet {

namespace {

constexpr int kChannels = 3;

bool is_probability(double p) { return p >= 0.0 && p <= 1.0; }

// Pixel access in fp32 for the three types the loader hands out.
float load(const float* p) { return *p; }
float load(const bf16* p) { return from_bf16(*p); }
float load(const uint8_t* p) { return float(*p); }
void store(float* p, float v) { *p = v; }
void store(bf16* p, float v) { *p = to_bf16(v); }
// Round to nearest (even on ties, as np.rint in timm's u8 collate); the clamp only guards fp32's last bit.
void store(uint8_t* p, float v) { *p = uint8_t(std::clamp(std::nearbyint(v), 0.0f, 255.0f)); }

// Mixup of one pair: both rows are read before either is written, so each gets the other's original.
template <class T>
void mixup_pair(T* a, T* b, int64_t count, float own, float other) {
  for (int64_t k = 0; k < count; ++k) {
    const float x = load(a + k), y = load(b + k);
    store(a + k, own * x + other * y);
    store(b + k, own * y + other * x);
  }
}

// CutMix of one pair: the box of each row becomes the other's, which is a swap.
template <class T>
void cutmix_pair(T* a, T* b, int size, const MixBox& box) {
  const int64_t span = int64_t(box.right - box.left) * kChannels;
  for (int y = box.top; y < box.bottom; ++y) {
    const int64_t offset = (int64_t(y) * size + box.left) * kChannels;
    std::swap_ranges(a + offset, a + offset + span, b + offset);
  }
}

template <class T>
void mix_pixels(T* images, int64_t rows, int size, const MixDecision& decision) {
  const int64_t pixels = int64_t(size) * size * kChannels;
  const float own = float(decision.lambda), other = float(1.0 - decision.lambda);
  for (int64_t i = 0; i < rows / 2; ++i) {
    T* a = images + i * pixels;
    T* b = images + (rows - 1 - i) * pixels;
    if (decision.kind == MixKind::Mixup) mixup_pair(a, b, pixels, own, other);
    if (decision.kind == MixKind::CutMix) cutmix_pair(a, b, size, decision.box);
  }
}

}  // namespace

void MixOptions::check() const {
  ASLNET_CHECK(mixup_alpha >= 0.0 && std::isfinite(mixup_alpha)) << "--mixup must be >= 0, got " << mixup_alpha;
  ASLNET_CHECK(cutmix_alpha >= 0.0 && std::isfinite(cutmix_alpha)) << "--cutmix must be >= 0, got " << cutmix_alpha;
  ASLNET_CHECK(is_probability(probability)) << "--mixup-prob must be in [0, 1], got " << probability;
  ASLNET_CHECK(is_probability(switch_probability))
      << "--mixup-switch-prob must be in [0, 1], got " << switch_probability;
}

double sample_gamma(double shape, Rng& rng) {
  ASLNET_CHECK(shape > 0.0 && std::isfinite(shape)) << "sample_gamma: shape must be positive, got " << shape;
  if (shape < 1.0) {
    // The method needs shape >= 1: Gamma(a) = Gamma(a + 1) * U^(1/a) (Marsaglia and Tsang, section 6).
    double u = 0.0;
    while (u <= 0.0) u = rng.uniform();
    return sample_gamma(shape + 1.0, rng) * std::pow(u, 1.0 / shape);
  }
  const double d = shape - 1.0 / 3.0, c = 1.0 / std::sqrt(9.0 * d);
  for (;;) {
    double x = 0.0, v = 0.0;
    while (v <= 0.0) {
      x = rng.normal();
      v = 1.0 + c * x;
    }
    v = v * v * v;
    const double u = rng.uniform();
    // The cheap squeeze accepts most draws; the log test decides the rest exactly.
    if (u < 1.0 - 0.0331 * (x * x) * (x * x)) return d * v;
    if (u > 0.0 && std::log(u) < 0.5 * x * x + d * (1.0 - v + std::log(v))) return d * v;
  }
}

double sample_beta(double a, double b, Rng& rng) {
  const double x = sample_gamma(a, rng), y = sample_gamma(b, rng);
  // Tiny shapes can underflow both draws to 0: the distribution is then all but two points, 0 and 1,
  // with P(1) = a / (a + b).
  if (x + y <= 0.0) return rng.uniform() < a / (a + b) ? 1.0 : 0.0;
  return x / (x + y);
}

MixDecision draw_mix(const MixOptions& options, int size, Rng& rng) {
  options.check();
  ASLNET_CHECK(size > 0) << "mix: image size must be positive, got " << size;
  MixDecision d;
  if (!options.enabled() || !(rng.uniform() < options.probability)) return d;
  bool cutmix = options.cutmix_alpha > 0.0;
  if (options.mixup_alpha > 0.0 && options.cutmix_alpha > 0.0) cutmix = rng.uniform() < options.switch_probability;
  d.lambda = sample_beta(cutmix ? options.cutmix_alpha : options.mixup_alpha,
                         cutmix ? options.cutmix_alpha : options.mixup_alpha, rng);
  if (d.lambda >= 1.0) {
    d.lambda = 1.0;
    return d;
  }
  d.kind = cutmix ? MixKind::CutMix : MixKind::Mixup;
  if (cutmix) {
    // timm's rand_bbox: sides of sqrt(1 - lambda) of the image's (truncated), a uniform centre, half a
    // side each way (integer halves), clipped to the image; lambda then counts the pixels kept.
    const int cut = int(double(size) * std::sqrt(1.0 - d.lambda));
    const int cy = int(rng.below(uint64_t(size))), cx = int(rng.below(uint64_t(size)));
    d.box.top = std::clamp(cy - cut / 2, 0, size);
    d.box.bottom = std::clamp(cy + cut / 2, 0, size);
    d.box.left = std::clamp(cx - cut / 2, 0, size);
    d.box.right = std::clamp(cx + cut / 2, 0, size);
    d.lambda = 1.0 - double(d.box.area()) / (double(size) * double(size));
  }
  return d;
}

void apply_mix(void* images, DType dtype, int64_t rows, int size, const int32_t* labels, int classes,
               float* targets, int32_t* dominant_labels, const MixDecision& decision) {
  ASLNET_CHECK(rows >= 0 && size > 0 && classes > 0)
      << "mix: " << rows << " rows of " << size << "x" << size << " images, " << classes << " classes";
  ASLNET_CHECK(decision.lambda >= 0.0 && decision.lambda <= 1.0) << "mix: lambda " << decision.lambda;
  for (int64_t i = 0; i < rows; ++i)
    ASLNET_CHECK(labels[i] >= 0 && labels[i] < classes)
        << "mix: label " << labels[i] << " of row " << i << " outside [0, " << classes << ")";
  if (decision.kind == MixKind::CutMix) {
    const MixBox& b = decision.box;
    ASLNET_CHECK(0 <= b.top && b.top <= b.bottom && b.bottom <= size && 0 <= b.left && b.left <= b.right &&
                 b.right <= size)
        << "mix: cutmix box rows [" << b.top << ", " << b.bottom << ") columns [" << b.left << ", " << b.right
        << ") outside a " << size << "x" << size << " image";
  }

  switch (dtype) {
    case DType::F32: mix_pixels(static_cast<float*>(images), rows, size, decision); break;
    case DType::BF16: mix_pixels(static_cast<bf16*>(images), rows, size, decision); break;
    case DType::U8: mix_pixels(static_cast<uint8_t*>(images), rows, size, decision); break;
    default: ASLNET_CHECK(false) << "mix: images must be f32, bf16 or u8, got " << dtype_name(dtype);
  }

  // Targets and dominant labels pair by pair, both labels read before either is written (so that
  // dominant_labels may be labels).
  const bool mixed = decision.kind != MixKind::None;
  const float own = mixed ? float(decision.lambda) : 1.0f, other = mixed ? float(1.0 - decision.lambda) : 0.0f;
  std::fill(targets, targets + rows * classes, 0.0f);
  for (int64_t i = 0; i < (rows + 1) / 2; ++i) {
    const int64_t j = rows - 1 - i;
    const int32_t li = labels[i], lj = labels[j];
    if (i == j) {  // the middle row is its own partner: its image is unchanged, its target one-hot
      targets[i * classes + li] = 1.0f;
      dominant_labels[i] = li;
      continue;
    }
    targets[i * classes + li] += own;
    targets[i * classes + lj] += other;
    targets[j * classes + lj] += own;
    targets[j * classes + li] += other;
    const bool keeps_own = !mixed || decision.lambda >= 0.5;
    dominant_labels[i] = keeps_own ? li : lj;
    dominant_labels[j] = keeps_own ? lj : li;
  }
}

void mix_batch(void* images, DType dtype, int64_t rows, int size, const int32_t* labels, int classes,
               float* targets, int32_t* dominant_labels, const MixOptions& options, Rng& rng) {
  apply_mix(images, dtype, rows, size, labels, classes, targets, dominant_labels, draw_mix(options, size, rng));
}

Rng mix_rng(uint64_t seed, int64_t epoch, int64_t batch_index) {
  // Another odd constant than the loader's per-sample streams use, so the two families do not meet.
  return Rng(seed ^ (0xd1b54a32d192ed03ull * uint64_t(epoch + 1)), uint64_t(batch_index));
}

}  // namespace aslnet
