// data/mix: batch-level mixup and cutmix (timm's Mixup, batch mode). Checked on fresh random batches of
// every pixel type: mixup pixels are the lambda-weighted pair of the original rows, cutmix's box holds
// the partner's original pixels and nothing else changes, lambda is the share of pixels kept, targets
// carry lambda and 1 - lambda and sum to 1, the dominant label follows lambda, a seed names one result;
// and the Gamma / Beta samplers have the moments of their distributions.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "data/mix.h"
#include "engine/core/error.h"
#include "tests/test_util.h"

namespace aslnet {
namespace {

constexpr int kClasses = 29;

// A host batch of `rows` size x size x 3 images of `dtype`, with each pixel's value as a float (exact
// in the dtype: integers for u8, bf16-rounded for bf16).
struct HostBatch {
  DType dtype;
  int64_t rows;
  int size;
  std::vector<unsigned char> bytes;
  std::vector<int32_t> labels;

  int64_t pixels() const { return int64_t(size) * size * 3; }
  float at(int64_t row, int64_t k) const {
    const int64_t i = row * pixels() + k;
    switch (dtype) {
      case DType::F32: return reinterpret_cast<const float*>(bytes.data())[i];
      case DType::BF16: return from_bf16(reinterpret_cast<const bf16*>(bytes.data())[i]);
      default: return float(bytes[size_t(i)]);
    }
  }
};

HostBatch random_batch(DType dtype, int64_t rows, int size, Rng& rng) {
  HostBatch b{dtype, rows, size, std::vector<unsigned char>(size_t(rows * int64_t(size) * size * 3) * dtype_size(dtype)),
              std::vector<int32_t>(size_t(rows))};
  const int64_t n = rows * b.pixels();
  for (int64_t i = 0; i < n; ++i) {
    if (dtype == DType::F32) reinterpret_cast<float*>(b.bytes.data())[i] = float(rng.normal());
    if (dtype == DType::BF16) reinterpret_cast<bf16*>(b.bytes.data())[i] = to_bf16(float(rng.normal()));
    if (dtype == DType::U8) b.bytes[size_t(i)] = uint8_t(rng.below(256));
  }
  for (auto& l : b.labels) l = int32_t(rng.below(kClasses));
  return b;
}

struct Mixed {
  HostBatch batch;
  std::vector<float> targets;
  std::vector<int32_t> dominant;
  MixDecision decision;
};

// Mixes a copy of `original` with mix_batch, and records what draw_mix decides on the same stream.
Mixed mix(const HostBatch& original, const MixOptions& options, uint64_t seed) {
  Mixed m{original, std::vector<float>(size_t(original.rows * kClasses), -1.0f),
          std::vector<int32_t>(size_t(original.rows), -1), {}};
  Rng probe(seed), rng(seed);
  m.decision = draw_mix(options, original.size, probe);
  mix_batch(m.batch.bytes.data(), original.dtype, original.rows, original.size, original.labels.data(), kClasses,
            m.targets.data(), m.dominant.data(), options, rng);
  return m;
}

// The targets: lambda on the row's label plus 1 - lambda on its partner's, summing to 1; the dominant
// label is the row's own unless lambda < 0.5.
void expect_targets(const HostBatch& original, const Mixed& m) {
  const int64_t rows = original.rows;
  const double lambda = m.decision.kind == MixKind::None ? 1.0 : m.decision.lambda;
  for (int64_t i = 0; i < rows; ++i) {
    const int64_t j = rows - 1 - i;
    const int32_t own = original.labels[size_t(i)], other = original.labels[size_t(j)];
    std::vector<double> expected(kClasses, 0.0);
    expected[size_t(own)] += i == j ? 1.0 : lambda;
    expected[size_t(other)] += i == j ? 0.0 : 1.0 - lambda;
    double sum = 0.0;
    for (int c = 0; c < kClasses; ++c) {
      const float t = m.targets[size_t(i * kClasses + c)];
      EXPECT_NEAR(t, expected[size_t(c)], 1e-6) << "row " << i << " class " << c;
      sum += t;
    }
    EXPECT_NEAR(sum, 1.0, 1e-6) << "row " << i;
    EXPECT_EQ(m.dominant[size_t(i)], i == j || lambda >= 0.5 ? own : other) << "row " << i;
  }
}

// Largest error mixup may make on top of the exact fp32 value: bf16's and u8's rounding.
double mixup_tolerance(DType dtype, double value) {
  if (dtype == DType::BF16) return std::abs(value) / 128.0;
  if (dtype == DType::U8) return 0.5 + 1e-4;
  return 1e-6 * std::max(1.0, std::abs(value));
}

const DType kTypes[] = {DType::F32, DType::BF16, DType::U8};

TEST(Mix, MixupPixelsAreTheLambdaWeightedPair) {
  for (DType dtype : kTypes) {
    for (int64_t rows : {8, 7}) {  // odd: the middle row is its own partner and stays
      const uint64_t seed = test::fresh_seed();
      SCOPED_TRACE(std::string(dtype_name(dtype)) + ", " + std::to_string(rows) + " rows, seed " + std::to_string(seed));
      Rng rng(seed);
      const HostBatch original = random_batch(dtype, rows, 6, rng);
      MixOptions options;
      options.mixup_alpha = 1.0;
      const Mixed m = mix(original, options, seed + 1);
      ASSERT_EQ(m.decision.kind, MixKind::Mixup);
      ASSERT_GT(m.decision.lambda, 0.0);
      ASSERT_LT(m.decision.lambda, 1.0);
      const double lambda = m.decision.lambda;
      for (int64_t i = 0; i < rows; ++i) {
        const int64_t j = rows - 1 - i;
        for (int64_t k = 0; k < original.pixels(); ++k) {
          const double expected =
              i == j ? original.at(i, k) : lambda * original.at(i, k) + (1.0 - lambda) * original.at(j, k);
          ASSERT_NEAR(m.batch.at(i, k), expected, mixup_tolerance(dtype, expected)) << "row " << i << " value " << k;
        }
      }
      expect_targets(original, m);
    }
  }
}

TEST(Mix, CutmixPastesThePartnersBoxAndLambdaIsTheShareKept) {
  for (DType dtype : kTypes) {
    for (int trial = 0; trial < 20; ++trial) {
      const uint64_t seed = test::fresh_seed();
      SCOPED_TRACE(std::string(dtype_name(dtype)) + ", seed " + std::to_string(seed));
      Rng rng(seed);
      const int size = 9;
      const HostBatch original = random_batch(dtype, 5, size, rng);
      MixOptions options;
      options.cutmix_alpha = 1.0;
      const Mixed m = mix(original, options, seed + 1);
      ASSERT_EQ(m.decision.kind, MixKind::CutMix);
      const MixBox& box = m.decision.box;
      ASSERT_TRUE(0 <= box.top && box.top <= box.bottom && box.bottom <= size);
      ASSERT_TRUE(0 <= box.left && box.left <= box.right && box.right <= size);
      EXPECT_DOUBLE_EQ(m.decision.lambda, 1.0 - double(box.area()) / double(size * size));
      for (int64_t i = 0; i < original.rows; ++i) {
        const int64_t j = original.rows - 1 - i;
        for (int y = 0; y < size; ++y)
          for (int x = 0; x < size; ++x) {
            const bool inside = y >= box.top && y < box.bottom && x >= box.left && x < box.right;
            for (int c = 0; c < 3; ++c) {
              const int64_t k = (int64_t(y) * size + x) * 3 + c;
              ASSERT_EQ(m.batch.at(i, k), original.at(inside ? j : i, k)) << "row " << i << " at " << y << "," << x;
            }
          }
      }
      expect_targets(original, m);
    }
  }
}

// timm's rand_bbox, replayed on the same stream: the draw of "mixed at all", lambda from Beta(alpha,
// alpha), then the centre; sides int(size * sqrt(1 - lambda)), half a side (integer) each way, clipped.
TEST(Mix, CutmixBoxIsTimmsRandBbox) {
  for (int trial = 0; trial < 200; ++trial) {
    const uint64_t seed = test::fresh_seed();
    SCOPED_TRACE("seed " + std::to_string(seed));
    const int size = 3 + int(seed % 60);
    MixOptions options;
    options.cutmix_alpha = 0.7;
    Rng rng(seed), replay(seed);
    const MixDecision d = draw_mix(options, size, rng);
    replay.uniform();
    const double lambda = sample_beta(0.7, 0.7, replay);
    if (lambda >= 1.0) {
      EXPECT_EQ(d.kind, MixKind::None);
      continue;
    }
    const int cut = int(size * std::sqrt(1.0 - lambda));
    const int cy = int(replay.below(uint64_t(size))), cx = int(replay.below(uint64_t(size)));
    EXPECT_EQ(d.kind, MixKind::CutMix);
    EXPECT_EQ(d.box.top, std::max(0, cy - cut / 2));
    EXPECT_EQ(d.box.bottom, std::min(size, cy + cut / 2));
    EXPECT_EQ(d.box.left, std::max(0, cx - cut / 2));
    EXPECT_EQ(d.box.right, std::min(size, cx + cut / 2));
    // Clipping only shrinks the box: the share kept is at least the drawn lambda's.
    EXPECT_GE(d.lambda, lambda - 1e-12);
  }
}

TEST(Mix, SameSeedSameBatchOtherSeedOtherBatch) {
  for (DType dtype : kTypes) {
    Rng rng(test::fresh_seed());
    const HostBatch original = random_batch(dtype, 6, 32, rng);
    MixOptions options;
    options.mixup_alpha = 0.4;
    options.cutmix_alpha = 1.0;
    const uint64_t seed = test::fresh_seed();
    const Mixed a = mix(original, options, seed), b = mix(original, options, seed), c = mix(original, options, seed + 1);
    EXPECT_EQ(a.batch.bytes, b.batch.bytes) << dtype_name(dtype);
    EXPECT_EQ(a.targets, b.targets) << dtype_name(dtype);
    EXPECT_EQ(a.dominant, b.dominant) << dtype_name(dtype);
    EXPECT_TRUE(a.batch.bytes != c.batch.bytes || a.targets != c.targets) << dtype_name(dtype) << ": another seed, the same batch";
  }
}

TEST(Mix, UnmixedBatchesKeepTheirPixelsAndGetOneHotTargets) {
  Rng rng(test::fresh_seed());
  const HostBatch original = random_batch(DType::F32, 6, 5, rng);
  MixOptions never;
  never.mixup_alpha = never.cutmix_alpha = 1.0;
  never.probability = 0.0;
  MixOptions off;  // both alphas 0: not enabled
  EXPECT_FALSE(off.enabled());
  EXPECT_TRUE(never.enabled());
  for (const MixOptions& options : {never, off}) {
    const Mixed m = mix(original, options, test::fresh_seed());
    EXPECT_EQ(m.decision.kind, MixKind::None);
    EXPECT_EQ(m.batch.bytes, original.bytes);
    EXPECT_EQ(m.dominant, original.labels);
    for (int64_t i = 0; i < original.rows; ++i)
      for (int c = 0; c < kClasses; ++c)
        EXPECT_EQ(m.targets[size_t(i * kClasses + c)], c == original.labels[size_t(i)] ? 1.0f : 0.0f);
  }
}

// How often a batch is mixed, and which of the two when both are on, follow the probabilities.
TEST(Mix, ProbabilityAndSwitchProbability) {
  Rng rng(test::fresh_seed());
  MixOptions options;
  options.mixup_alpha = options.cutmix_alpha = 1.0;
  options.probability = 0.7;
  options.switch_probability = 0.25;
  int mixed = 0, cutmix = 0;
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    const MixDecision d = draw_mix(options, 32, rng);
    mixed += d.kind != MixKind::None;
    cutmix += d.kind == MixKind::CutMix;
  }
  EXPECT_NEAR(double(mixed) / n, 0.7, 0.02);  // about 6 standard deviations
  EXPECT_NEAR(double(cutmix) / mixed, 0.25, 0.02);
  options.switch_probability = 1.0;
  for (int i = 0; i < 100; ++i) EXPECT_NE(draw_mix(options, 32, rng).kind, MixKind::Mixup);
  options.switch_probability = 0.0;
  for (int i = 0; i < 100; ++i) EXPECT_NE(draw_mix(options, 32, rng).kind, MixKind::CutMix);
}

// The loader may write the dominant labels over the labels themselves.
TEST(Mix, DominantLabelsMayOverwriteTheLabels) {
  Rng rng(test::fresh_seed());
  const HostBatch original = random_batch(DType::U8, 9, 4, rng);
  MixOptions options;
  options.mixup_alpha = 1.0;
  const uint64_t seed = test::fresh_seed();
  const Mixed separate = mix(original, options, seed);
  HostBatch in_place = original;
  std::vector<float> targets(size_t(original.rows * kClasses));
  Rng same(seed);
  mix_batch(in_place.bytes.data(), DType::U8, original.rows, original.size, in_place.labels.data(), kClasses,
            targets.data(), in_place.labels.data(), options, same);
  EXPECT_EQ(in_place.labels, separate.dominant);
  EXPECT_EQ(targets, separate.targets);
}

TEST(Mix, BadOptionsAndInputsAreRefusedByName) {
  auto message = [](auto&& fn) {
    try {
      fn();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  Rng rng(1);
  MixOptions bad;
  bad.mixup_alpha = -1;
  EXPECT_NE(message([&] { draw_mix(bad, 8, rng); }).find("--mixup"), std::string::npos);
  bad = MixOptions{};
  bad.cutmix_alpha = 1;
  bad.probability = 1.5;
  EXPECT_NE(message([&] { bad.check(); }).find("--mixup-prob"), std::string::npos);
  bad.probability = 1;
  bad.switch_probability = -0.1;
  EXPECT_NE(message([&] { bad.check(); }).find("--mixup-switch-prob"), std::string::npos);

  std::vector<float> images(2 * 4 * 4 * 3), targets(2 * kClasses);
  std::vector<int32_t> labels{3, kClasses}, dominant(2);
  MixOptions ok;
  ok.mixup_alpha = 1;
  EXPECT_NE(message([&] {
              mix_batch(images.data(), DType::F32, 2, 4, labels.data(), kClasses, targets.data(), dominant.data(), ok,
                        rng);
            }).find("label 29 of row 1"),
            std::string::npos);
  labels[1] = 0;
  EXPECT_NE(message([&] {
              mix_batch(images.data(), DType::I32, 2, 4, labels.data(), kClasses, targets.data(), dominant.data(), ok,
                        rng);
            }).find("f32, bf16 or u8"),
            std::string::npos);
}

// Moments over many draws: Gamma(k) has mean and variance k; Beta(a, a) mean 1/2 and variance
// 1 / (4 (2a + 1)) (1/12 for a = 1, the uniform distribution).
TEST(MixSamplers, GammaAndBetaMoments) {
  const uint64_t seed = test::fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  Rng rng(seed);
  const int n = 200000;
  for (double shape : {0.3, 1.0, 2.5}) {
    double sum = 0, sq = 0;
    for (int i = 0; i < n; ++i) {
      const double g = sample_gamma(shape, rng);
      ASSERT_GE(g, 0.0);
      sum += g;
      sq += g * g;
    }
    const double mean = sum / n, var = sq / n - mean * mean;
    // Five standard errors of the mean (sqrt(k / n)); the variance's error is looser.
    EXPECT_NEAR(mean, shape, 5 * std::sqrt(shape / n)) << "gamma " << shape;
    EXPECT_NEAR(var, shape, 0.05 * shape + 0.01) << "gamma " << shape;
  }
  for (double alpha : {1.0, 0.2, 4.0}) {
    double sum = 0, sq = 0;
    for (int i = 0; i < n; ++i) {
      const double b = sample_beta(alpha, alpha, rng);
      ASSERT_TRUE(b >= 0.0 && b <= 1.0) << b;
      sum += b;
      sq += b * b;
    }
    const double mean = sum / n, var = sq / n - mean * mean, expected_var = 1.0 / (4.0 * (2.0 * alpha + 1.0));
    EXPECT_NEAR(mean, 0.5, 5 * std::sqrt(expected_var / n)) << "beta " << alpha;
    EXPECT_NEAR(var, expected_var, 0.03 * expected_var) << "beta " << alpha;
  }
}

}  // namespace
}  // namespace aslnet
