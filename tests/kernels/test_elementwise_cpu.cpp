// The CPU element-wise kernels (kernels/elementwise.h), compiled for each vector width
// (engine/core/vectorize.h), against plain scalar loops written here: the same bits, at lengths that
// leave every kind of vector remainder and on inputs with zeros, negatives, NaN and infinities (the
// selects must keep torch's semantics: relu(NaN) is 0 here as in the scalar code, which compares).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "engine/core/rng.h"
#include "kernels/elementwise.h"
#include "tests/test_util.h"

namespace aslnet::kernels {
namespace {

std::vector<float> values(int64_t n, Rng& rng) {
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = float(rng.normal());
  // Special values at places the vectors reach in different lanes.
  if (n > 3) v[3] = 0.0f;
  if (n > 17) v[17] = -0.0f;
  if (n > 20) v[20] = std::numeric_limits<float>::quiet_NaN();
  if (n > 33) v[33] = std::numeric_limits<float>::infinity();
  if (n > 40) v[40] = -std::numeric_limits<float>::infinity();
  return v;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

class ElementwiseCpu : public ::testing::TestWithParam<int64_t> {};

TEST_P(ElementwiseCpu, MatchesScalarLoopsBitForBit) {
  const int64_t n = GetParam();
  const uint64_t seed = test::fresh_seed();
  SCOPED_TRACE("n " + std::to_string(n) + ", seed " + std::to_string(seed));
  Rng rng(seed);
  const std::vector<float> a = values(n, rng), b = values(n, rng);
  std::vector<float> want(static_cast<size_t>(n)), got(static_cast<size_t>(n));

  for (int64_t i = 0; i < n; ++i) want[size_t(i)] = a[size_t(i)] > 0.0f ? a[size_t(i)] : 0.0f;
  cpu::relu_forward<float>(n, a.data(), got.data());
  EXPECT_TRUE(same_bits(got, want)) << "relu_forward";

  for (int64_t i = 0; i < n; ++i) want[size_t(i)] = a[size_t(i)] > 0.0f ? b[size_t(i)] : 0.0f;
  cpu::relu_backward<float>(n, a.data(), b.data(), got.data());
  EXPECT_TRUE(same_bits(got, want)) << "relu_backward";

  for (int64_t i = 0; i < n; ++i) want[size_t(i)] = a[size_t(i)] + b[size_t(i)];
  cpu::add<float>(n, a.data(), b.data(), got.data());
  EXPECT_TRUE(same_bits(got, want)) << "add";
  got = b;
  cpu::add_inplace<float>(n, a.data(), got.data());
  EXPECT_TRUE(same_bits(got, want)) << "add_inplace";

  for (int64_t i = 0; i < n; ++i) {
    const float v = a[size_t(i)] + b[size_t(i)];
    want[size_t(i)] = v > 0.0f ? v : 0.0f;
  }
  cpu::add_relu<float>(n, a.data(), b.data(), got.data());
  EXPECT_TRUE(same_bits(got, want)) << "add_relu";
  // In place, as a caller may run it.
  got = a;
  cpu::add_relu<float>(n, got.data(), b.data(), got.data());
  EXPECT_TRUE(same_bits(got, want)) << "add_relu in place";
}

// 1 and 7 (under one vector), 16 and 17 (one AVX-512 vector and a tail), 100003 (split between threads).
INSTANTIATE_TEST_SUITE_P(Lengths, ElementwiseCpu, ::testing::Values(1, 7, 16, 17, 45, 1000, 100003));

TEST(ElementwiseCpuBias, AddsThePerChannelBiasThenReluWhenAsked) {
  const uint64_t seed = test::fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  Rng rng(seed);
  for (const int64_t channels : {1, 3, 29, 64}) {
    const int64_t rows = 37;
    const std::vector<float> y0 = values(rows * channels, rng), bias = values(channels, rng);
    for (const bool relu : {false, true}) {
      std::vector<float> want = y0, got = y0;
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < channels; ++c) {
          float& v = want[size_t(r * channels + c)];
          v += bias[size_t(c)];
          if (relu) v = v > 0.0f ? v : 0.0f;
        }
      cpu::add_bias<float>(rows, channels, bias.data(), relu, got.data());
      EXPECT_TRUE(same_bits(got, want)) << channels << " channels, relu " << relu;
    }
  }
}

}  // namespace
}  // namespace aslnet::kernels
