// Pooling and loss kernels against direct definitions.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "engine/core/rng.h"
#include "kernels/loss.h"
#include "kernels/pool.h"

namespace aslnet::kernels {
namespace {

TEST(PoolCpu, MaxPoolMatchesDefinitionWithNegativeInfinityPadding) {
  Rng rng(std::random_device{}());
  PoolShape s{2, 7, 6, 3, 3, 2, 1};
  std::vector<float> x(size_t(s.n * s.h * s.w * s.c));
  for (auto& v : x) v = float(rng.normal() - 3.0);  // mostly negative: zero padding would win, -inf must not
  std::vector<float> y(size_t(s.n * s.out_h() * s.out_w() * s.c), std::numeric_limits<float>::quiet_NaN());
  std::vector<int32_t> arg(y.size(), -7);
  cpu::maxpool_forward<float>(s, x.data(), y.data(), arg.data());
  for (int64_t n = 0; n < s.n; ++n)
    for (int64_t oh = 0; oh < s.out_h(); ++oh)
      for (int64_t ow = 0; ow < s.out_w(); ++ow)
        for (int64_t c = 0; c < s.c; ++c) {
          float best = -std::numeric_limits<float>::infinity();
          for (int64_t r = 0; r < 3; ++r)
            for (int64_t q = 0; q < 3; ++q) {
              const int64_t ih = oh * 2 - 1 + r, iw = ow * 2 - 1 + q;
              if (ih >= 0 && ih < s.h && iw >= 0 && iw < s.w) best = std::max(best, x[size_t(((n * s.h + ih) * s.w + iw) * s.c + c)]);
            }
          const size_t o = size_t(((n * s.out_h() + oh) * s.out_w() + ow) * s.c + c);
          EXPECT_EQ(y[o], best);
          EXPECT_EQ(x[size_t(n * s.h * s.w * s.c + arg[o])], best);
        }
}

TEST(PoolCpu, GlobalAveragePool) {
  std::vector<double> x{1, 10, 2, 20, 3, 30, 4, 40};  // n=1, 2x2 pixels, 2 channels
  std::vector<double> y(2);
  cpu::global_avgpool_forward<double>(1, 4, 2, x.data(), y.data());
  EXPECT_DOUBLE_EQ(y[0], 2.5);
  EXPECT_DOUBLE_EQ(y[1], 25.0);
}

TEST(LossCpu, CrossEntropyMatchesDefinitionAndIsStableForLargeLogits) {
  const std::vector<double> logits{1000.0, 1001.0, 999.0, -5.0, 0.0, 5.0};
  const std::vector<int32_t> labels{1, 0};
  const double smoothing = 0.1;
  double expected = 0.0;
  for (int i = 0; i < 2; ++i) {
    const double* row = &logits[size_t(i) * 3];
    const double peak = *std::max_element(row, row + 3);
    double sum = 0;
    for (int j = 0; j < 3; ++j) sum += std::exp(row[j] - peak);
    for (int j = 0; j < 3; ++j) {
      const double logp = row[j] - peak - std::log(sum);
      expected -= ((j == labels[size_t(i)] ? 1 - smoothing : 0.0) + smoothing / 3) * logp;
    }
  }
  std::vector<double> grad(6);
  const double loss = cpu::softmax_cross_entropy<double>(2, 3, logits.data(), labels.data(), smoothing, grad.data());
  EXPECT_NEAR(loss, expected / 2, 1e-12);
  EXPECT_TRUE(std::isfinite(loss));
  for (int i = 0; i < 2; ++i) EXPECT_NEAR(grad[size_t(i) * 3] + grad[size_t(i) * 3 + 1] + grad[size_t(i) * 3 + 2], 0.0, 1e-12);
  EXPECT_EQ(cpu::top1_correct<double>(2, 3, logits.data(), labels.data()), 1);
}


// Rows of a random distribution over `classes` (positive, summing to 1), as mixup makes them but denser.
std::vector<float> random_targets(int64_t batch, int64_t classes, Rng& rng) {
  std::vector<float> t(size_t(batch * classes));
  for (int64_t i = 0; i < batch; ++i) {
    double sum = 0.0;
    for (int64_t j = 0; j < classes; ++j) sum += t[size_t(i * classes + j)] = float(rng.uniform() + 0.01);
    for (int64_t j = 0; j < classes; ++j) t[size_t(i * classes + j)] = float(t[size_t(i * classes + j)] / sum);
  }
  return t;
}

// The soft loss against its definition, -sum_j t'_j log softmax_j with t' = (1 - eps) t + eps / classes,
// and its gradient (softmax_j sum_k t'_k - t'_j) * scale / batch (softmax - t' when the fp32 rows sum to
// exactly 1, which they need not); large logits included.
TEST(LossCpu, SoftCrossEntropyMatchesDefinition) {
  const uint64_t seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  Rng rng(seed);
  const int64_t batch = 5, classes = 7;
  for (double smoothing : {0.0, 0.1, 0.3}) {
    std::vector<double> logits(size_t(batch * classes));
    for (auto& v : logits) v = 3.0 * rng.normal();
    logits[3] = 1000.0;  // row 0: exp would overflow without the shift by the largest logit
    const std::vector<float> targets = random_targets(batch, classes, rng);
    const double scale = 0.25;
    double expected = 0.0;
    std::vector<double> expected_grad(logits.size());
    for (int64_t i = 0; i < batch; ++i) {
      const double* row = &logits[size_t(i * classes)];
      const double peak = *std::max_element(row, row + classes);
      double sum = 0.0;
      double mass = 0.0;
      auto smoothed = [&](int64_t j) {
        return (1.0 - smoothing) * double(targets[size_t(i * classes + j)]) + smoothing / double(classes);
      };
      for (int64_t j = 0; j < classes; ++j) sum += std::exp(row[j] - peak), mass += smoothed(j);
      for (int64_t j = 0; j < classes; ++j) {
        const double logp = row[j] - peak - std::log(sum);
        expected -= smoothed(j) * logp;
        expected_grad[size_t(i * classes + j)] = (std::exp(logp) * mass - smoothed(j)) * scale / double(batch);
      }
    }
    std::vector<double> grad(logits.size(), std::nan(""));
    const double loss = cpu::softmax_cross_entropy_soft<double>(batch, classes, logits.data(), targets.data(),
                                                                smoothing, grad.data(), scale);
    EXPECT_NEAR(loss, expected / double(batch), 1e-9) << "smoothing " << smoothing;
    for (size_t k = 0; k < grad.size(); ++k) EXPECT_NEAR(grad[k], expected_grad[k], 1e-12) << "smoothing " << smoothing << " at " << k;
    EXPECT_EQ(cpu::softmax_cross_entropy_soft<double>(batch, classes, logits.data(), targets.data(), smoothing, nullptr,
                                                      scale),
              loss);
  }
}

// One-hot targets are the hard-label loss, bit for bit: loss and every gradient element, f32 and f64.
template <class T>
void expect_one_hot_is_hard(Rng& rng) {
  const int64_t batch = 9, classes = 29;
  std::vector<T> logits(size_t(batch * classes));
  for (auto& v : logits) v = T(3.0 * rng.normal());
  std::vector<int32_t> labels(static_cast<size_t>(batch));
  std::vector<float> targets(size_t(batch * classes), 0.0f);
  for (int64_t i = 0; i < batch; ++i) {
    labels[size_t(i)] = int32_t(rng.below(uint64_t(classes)));
    targets[size_t(i * classes + labels[size_t(i)])] = 1.0f;
  }
  for (double smoothing : {0.0, 0.1, 0.25}) {
    for (double scale : {1.0, 0.5, 1024.0}) {
      std::vector<T> hard_grad(logits.size()), soft_grad(logits.size());
      const double hard = cpu::softmax_cross_entropy<T>(batch, classes, logits.data(), labels.data(), smoothing,
                                                        hard_grad.data(), scale);
      const double soft = cpu::softmax_cross_entropy_soft<T>(batch, classes, logits.data(), targets.data(), smoothing,
                                                             soft_grad.data(), scale);
      EXPECT_EQ(soft, hard) << "smoothing " << smoothing << ", scale " << scale;
      EXPECT_EQ(soft_grad, hard_grad) << "smoothing " << smoothing << ", scale " << scale;
    }
  }
}

TEST(LossCpu, SoftCrossEntropyOfOneHotTargetsIsTheHardLoss) {
  const uint64_t seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  Rng rng(seed);
  expect_one_hot_is_hard<float>(rng);
  expect_one_hot_is_hard<double>(rng);
}

}  // namespace
}  // namespace aslnet::kernels
