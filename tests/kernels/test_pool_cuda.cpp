// CUDA pooling against the CPU kernels on fresh random inputs, outputs poisoned first: max pooling
// (values, and the argmax exactly: in fp32 on inputs without ties, in bf16 with the ties that bf16
// rounding makes, and with NaNs), its gather backward, and global average pooling forward and backward,
// in fp32 and bf16, over ResNet's stem shape, odd sizes and channel counts, and other windows.
// Skips without a GPU (fails instead under ASLNET_REQUIRE_GPU=1).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <string>
#include <type_traits>
#include <vector>

#include "engine/core/context.h"
#include "engine/core/tensor.h"
#include "kernels/pool.h"
#include "tests/test_util.h"

namespace aslnet {
namespace {

using kernels::PoolShape;

PoolShape pool(int64_t n, int64_t h, int64_t w, int64_t c, int64_t window = 3, int64_t stride = 2, int64_t pad = 1) {
  PoolShape s;
  s.n = n, s.h = h, s.w = w, s.c = c, s.window = window, s.stride = stride, s.pad = pad;
  return s;
}

const std::vector<PoolShape> kPoolShapes = {
    pool(4, 112, 112, 64),         // ResNet's stem
    pool(2, 15, 17, 3),            // odd sizes, 3 channels
    pool(3, 9, 9, 29),             // odd channel count
    pool(2, 9, 10, 130, 2, 2, 0),  // non-overlapping windows, an uncovered last row, c % 4 == 2
    pool(2, 11, 7, 5, 3, 1, 1),    // stride 1: every input in up to 9 windows
    pool(1, 1, 1, 8),              // a single pixel
};

std::string name(const PoolShape& s) {
  return "n " + std::to_string(s.n) + ", " + std::to_string(s.h) + "x" + std::to_string(s.w) + "x" +
         std::to_string(s.c) + ", window " + std::to_string(s.window) + ", stride " + std::to_string(s.stride) +
         ", pad " + std::to_string(s.pad);
}

// Distinct values in a random order: no ties anywhere, so the argmax does not depend on tie-breaking.
Tensor distinct_f32(const Shape& shape, Rng& rng) {
  Tensor t = Tensor::empty(shape, DType::F32);
  const int64_t count = t.numel();
  std::vector<int64_t> order(static_cast<size_t>(count));
  std::iota(order.begin(), order.end(), 0);
  for (int64_t i = count - 1; i > 0; --i) std::swap(order[size_t(i)], order[size_t(rng.below(uint64_t(i + 1)))]);
  for (int64_t i = 0; i < count; ++i)
    t.data<float>()[i] = float(double(order[size_t(i)]) - 0.5 * double(count)) / 1024.0f;
  return t;
}

int64_t count_argmax_mismatches(const Tensor& gpu, const Tensor& ref, int64_t* first) {
  const Tensor h = gpu.to(Device::cpu());
  int64_t bad = 0;
  *first = -1;
  for (int64_t i = 0; i < ref.numel(); ++i)
    if (h.data<int32_t>()[i] != ref.data<int32_t>()[i]) {
      if (*first < 0) *first = i;
      ++bad;
    }
  return bad;
}

// Values equal bit for bit after widening, NaN matching NaN.
int64_t count_value_mismatches(const Tensor& gpu, const Tensor& ref, int64_t* first) {
  const Tensor h = test::to_f32(gpu);
  int64_t bad = 0;
  *first = -1;
  for (int64_t i = 0; i < ref.numel(); ++i) {
    const float a = h.data<float>()[i], b = ref.data<float>()[i];
    const bool same = (std::isnan(a) && std::isnan(b)) || std::memcmp(&a, &b, 4) == 0;
    if (!same) {
      if (*first < 0) *first = i;
      ++bad;
    }
  }
  return bad;
}

template <class T>
void check_maxpool(Context& ctx, const PoolShape& s, const Tensor& x_host, Rng& rng) {
  constexpr bool kBf16 = std::is_same_v<T, aslnet::bf16>;
  constexpr DType kType = kBf16 ? DType::BF16 : DType::F32;
  const Device gpu = ctx.device();
  const Shape in_shape{s.n, s.h, s.w, s.c}, out_shape{s.n, s.out_h(), s.out_w(), s.c};
  const Tensor dy_host = test::random_f32(out_shape, rng, 1.0, kBf16);

  Tensor y_ref = Tensor::empty(out_shape, DType::F32), arg_ref = Tensor::empty(out_shape, DType::I32);
  kernels::cpu::maxpool_forward<float>(s, x_host.data<float>(), y_ref.data<float>(), arg_ref.data<int32_t>());
  Tensor dx_ref = Tensor::empty(in_shape, DType::F32);
  kernels::cpu::maxpool_backward<float>(s, dy_host.data<float>(), arg_ref.data<int32_t>(), dx_ref.data<float>());

  auto up = [&](const Tensor& t) { return (kBf16 ? test::to_bf16(t) : t).to(gpu); };
  const Tensor x = up(x_host), dy = up(dy_host);
  Tensor y = test::poisoned(out_shape, kType, gpu), arg = test::poisoned(out_shape, DType::I32, gpu);
  Tensor dx = test::poisoned(in_shape, kType, gpu);
  kernels::cuda::maxpool_forward<T>(ctx.stream(), s, x.data<T>(), y.data<T>(), arg.data<int32_t>());
  kernels::cuda::maxpool_backward<T>(ctx.stream(), s, dy.data<T>(), arg.data<int32_t>(), dx.data<T>());
  ctx.synchronize();

  int64_t first = -1;
  EXPECT_EQ(count_argmax_mismatches(arg, arg_ref, &first), 0) << "argmax, first at " << first;
  // The maximum is one of the inputs: exact in either type.
  EXPECT_EQ(count_value_mismatches(y, y_ref, &first), 0) << "y, first at " << first;
  // dx sums the same dy in the same order as the CPU kernel: exact in fp32, rounded once in bf16.
  EXPECT_LE(test::relative_error(dx, dx_ref), kBf16 ? 1e-2 : 1e-4);
  EXPECT_LE(test::max_relative_error(dx, dx_ref), kBf16 ? 1e-2 : 1e-4);
  if (!kBf16) {
    EXPECT_EQ(count_value_mismatches(dx, dx_ref, &first), 0) << "dx, first at " << first;
  }
}

TEST(MaxPoolCuda, F32MatchesCpuExactly) {
  ASLNET_REQUIRE_GPU_OR_SKIP();
  Context ctx(Device::cuda(0));
  const uint64_t seed = test::fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  Rng rng(seed);
  for (const PoolShape& s : kPoolShapes) {
    SCOPED_TRACE(name(s));
    check_maxpool<float>(ctx, s, distinct_f32(Shape{s.n, s.h, s.w, s.c}, rng), rng);
  }
}

TEST(MaxPoolCuda, Bf16MatchesF32Reference) {
  ASLNET_REQUIRE_GPU_OR_SKIP();
  Context ctx(Device::cuda(0));
  const uint64_t seed = test::fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  Rng rng(seed);
  for (const PoolShape& s : kPoolShapes) {
    SCOPED_TRACE(name(s));
    // bf16 rounding of N(0, 1) values leaves many ties in a window: the first maximum must still win.
    check_maxpool<aslnet::bf16>(ctx, s, test::random_f32(Shape{s.n, s.h, s.w, s.c}, rng, 1.0, true), rng);
  }
}

// A NaN is kept only where it is the first element of its window that the scan sees (the CPU kernel's
// comparison, as torch's "v > best || isnan(v)" is not); elsewhere it is skipped. Same on the GPU.
TEST(MaxPoolCuda, NanHandlingMatchesCpu) {
  ASLNET_REQUIRE_GPU_OR_SKIP();
  Context ctx(Device::cuda(0));
  const uint64_t seed = test::fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  Rng rng(seed);
  for (const PoolShape& s : {pool(2, 16, 16, 8), pool(1, 9, 11, 3)}) {
    SCOPED_TRACE(name(s));
    Tensor x = distinct_f32(Shape{s.n, s.h, s.w, s.c}, rng);
    for (int64_t i = 0; i < x.numel(); ++i)
      if (rng.below(10) == 0) x.data<float>()[i] = std::nanf("");
    check_maxpool<float>(ctx, s, x, rng);
  }
}

TEST(GlobalAvgPoolCuda, MatchesCpu) {
  ASLNET_REQUIRE_GPU_OR_SKIP();
  Context ctx(Device::cuda(0));
  const Device gpu = ctx.device();
  const uint64_t seed = test::fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  Rng rng(seed);
  struct Case {
    int64_t n, hw, c;
  };
  for (const Case& k : {Case{256, 49, 2048}, Case{4, 56 * 56, 64}, Case{3, 5, 3}, Case{2, 1, 130}, Case{5, 16, 29},
                        Case{70000, 1, 8}}) {
    SCOPED_TRACE("n " + std::to_string(k.n) + ", hw " + std::to_string(k.hw) + ", c " + std::to_string(k.c));
    for (bool bf16 : {false, true}) {
      SCOPED_TRACE(bf16 ? "bf16" : "f32");
      const DType type = bf16 ? DType::BF16 : DType::F32;
      // An offset keeps the means away from zero, where a relative error says nothing.
      Tensor x_host = test::random_f32(Shape{k.n, k.hw, k.c}, rng);
      for (int64_t i = 0; i < x_host.numel(); ++i) {
        float& v = x_host.data<float>()[i];
        v += 1.0f;
        if (bf16) v = from_bf16(aslnet::to_bf16(v));
      }
      const Tensor dy_host = test::random_f32(Shape{k.n, k.c}, rng, 1.0, bf16);
      Tensor y_ref = Tensor::empty(Shape{k.n, k.c}, DType::F32),
             dx_ref = Tensor::empty(Shape{k.n, k.hw, k.c}, DType::F32);
      kernels::cpu::global_avgpool_forward<float>(k.n, k.hw, k.c, x_host.data<float>(), y_ref.data<float>());
      kernels::cpu::global_avgpool_backward<float>(k.n, k.hw, k.c, dy_host.data<float>(), dx_ref.data<float>());

      auto up = [&](const Tensor& t) { return (bf16 ? test::to_bf16(t) : t).to(gpu); };
      const Tensor x = up(x_host), dy = up(dy_host);
      Tensor y = test::poisoned(Shape{k.n, k.c}, type, gpu), dx = test::poisoned(Shape{k.n, k.hw, k.c}, type, gpu);
      if (bf16) {
        using B = aslnet::bf16;
        kernels::cuda::global_avgpool_forward<B>(ctx.stream(), k.n, k.hw, k.c, x.data<B>(), y.data<B>());
        kernels::cuda::global_avgpool_backward<B>(ctx.stream(), k.n, k.hw, k.c, dy.data<B>(), dx.data<B>());
      } else {
        kernels::cuda::global_avgpool_forward<float>(ctx.stream(), k.n, k.hw, k.c, x.data<float>(), y.data<float>());
        kernels::cuda::global_avgpool_backward<float>(ctx.stream(), k.n, k.hw, k.c, dy.data<float>(), dx.data<float>());
      }
      ctx.synchronize();
      const double fwd_tol = bf16 ? 1e-2 : 1e-5, bwd_tol = bf16 ? 1e-2 : 1e-4;
      EXPECT_LE(test::relative_error(y, y_ref), fwd_tol) << "forward";
      EXPECT_LE(test::max_relative_error(y, y_ref), fwd_tol) << "forward";
      EXPECT_LE(test::relative_error(dx, dx_ref), bwd_tol) << "backward";
      EXPECT_LE(test::max_relative_error(dx, dx_ref), bwd_tol) << "backward";
      if (!bf16) {
        // dy / hw, the CPU kernel's one division: the same bits.
        int64_t first = -1;
        EXPECT_EQ(count_value_mismatches(dx, dx_ref, &first), 0) << "backward, first at " << first;
      }
    }
  }
}

}  // namespace
}  // namespace aslnet
