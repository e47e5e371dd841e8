// Pooling and loss kernels against direct definitions.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
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

}  // namespace
}  // namespace aslnet::kernels
