// The im2col + BLAS convolution against a direct six-loop convolution, on fresh random shapes and
// values, outputs poisoned first. (Its backward passes are gradient-checked in tests/engine.)
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "engine/core/rng.h"
#include "kernels/conv.h"

namespace aslnet::kernels {
namespace {

std::vector<double> direct_conv(const ConvShape& s, const std::vector<float>& x, const std::vector<float>& w) {
  std::vector<double> y(size_t(s.n * s.out_h() * s.out_w() * s.k), 0.0);
  for (int64_t n = 0; n < s.n; ++n)
    for (int64_t oh = 0; oh < s.out_h(); ++oh)
      for (int64_t ow = 0; ow < s.out_w(); ++ow)
        for (int64_t k = 0; k < s.k; ++k) {
          double acc = 0.0;
          for (int64_t r = 0; r < s.r; ++r)
            for (int64_t q = 0; q < s.s; ++q) {
              const int64_t ih = oh * s.stride - s.pad + r, iw = ow * s.stride - s.pad + q;
              if (ih < 0 || ih >= s.h || iw < 0 || iw >= s.w) continue;
              for (int64_t c = 0; c < s.c; ++c)
                acc += double(x[size_t(((n * s.h + ih) * s.w + iw) * s.c + c)]) *
                       w[size_t(((k * s.r + r) * s.s + q) * s.c + c)];
            }
          y[size_t(((n * s.out_h() + oh) * s.out_w() + ow) * s.k + k)] = acc;
        }
  return y;
}

TEST(ConvCpu, ForwardMatchesDirectConvolutionOnRandomShapes) {
  Rng rng(std::random_device{}());
  for (int trial = 0; trial < 25; ++trial) {
    ConvShape s;
    s.n = 1 + int64_t(rng.below(3));
    s.c = 1 + int64_t(rng.below(9));
    s.k = 1 + int64_t(rng.below(9));
    s.r = s.s = int64_t(std::vector<int>{1, 2, 3, 5, 7}[rng.below(5)]);
    s.stride = 1 + int64_t(rng.below(3));
    s.pad = int64_t(rng.below(uint64_t(s.r / 2 + 1)));
    s.h = s.r + int64_t(rng.below(9));
    s.w = s.s + int64_t(rng.below(9));
    std::vector<float> x(size_t(s.n * s.h * s.w * s.c)), w(size_t(s.k * s.r * s.s * s.c));
    for (auto& v : x) v = float(rng.normal());
    for (auto& v : w) v = float(rng.normal());
    std::vector<float> y(size_t(s.n * s.out_h() * s.out_w() * s.k), std::numeric_limits<float>::quiet_NaN());
    std::vector<float> columns(size_t(cpu::conv2d_workspace_elems(s)) + 1);
    cpu::conv2d_forward<float>(s, x.data(), w.data(), y.data(), columns.data());
    const auto ref = direct_conv(s, x, w);
    double diff = 0, norm = 0;
    for (size_t i = 0; i < y.size(); ++i) {
      ASSERT_FALSE(std::isnan(y[i])) << "output " << i << " never written, trial " << trial;
      diff += (y[i] - ref[i]) * (y[i] - ref[i]);
      norm += ref[i] * ref[i];
    }
    EXPECT_LT(std::sqrt(diff / norm), 1e-5) << "trial " << trial << ": n" << s.n << " " << s.h << "x" << s.w << "x"
                                            << s.c << " k" << s.k << " r" << s.r << " stride " << s.stride << " pad "
                                            << s.pad;
  }
}

TEST(ConvCpu, WorkspaceIsBoundedForLargeBatches) {
  ConvShape s{256, 112, 112, 64, 64, 3, 3, 1, 1};
  // Columns are built a few images at a time, never for the whole batch at once.
  EXPECT_LE(cpu::conv2d_workspace_elems(s), int64_t(8) << 20 | (112 * 112 * 9 * 64));
  EXPECT_GT(cpu::conv2d_workspace_elems(s), 0);
  ConvShape pointwise{8, 7, 7, 64, 256, 1, 1, 1, 0};
  EXPECT_EQ(cpu::conv2d_workspace_elems(pointwise), 0);
}

}  // namespace
}  // namespace aslnet::kernels
