// CUDA element-wise kernels (ReLU, add, add_inplace, add_relu, cast, normalize_u8) against their CPU
// twins on fresh random inputs, outputs poisoned first. fp32 results must be bit-identical; bf16 runs
// start from bf16-exact inputs and must match the fp32 reference to bf16 rounding (1e-2); casts to bf16
// must round exactly as aslnet::to_bf16. Sizes include a misaligned view (the scalar path) and odd tails.
// Skips without a GPU (fails instead under ASLNET_REQUIRE_GPU=1).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "engine/core/context.h"
#include "engine/core/tensor.h"
#include "kernels/elementwise.h"
#include "tests/test_util.h"

namespace aslnet {
namespace {

const std::vector<int64_t> kCounts = {1, 7, 1000, int64_t(3) << 20, int64_t(70000) * 256 + 13};

// A device copy of `host` starting one element into its buffer: pointers that are not 16-byte aligned,
// so the kernels take their scalar path.
Tensor misaligned_on(const Tensor& host, Device gpu, DType dtype) {
  Tensor buffer = Tensor::empty(Shape{host.numel() + 1}, dtype, gpu);
  Tensor view = buffer.slice(1, host.shape());
  view.copy_from(dtype == DType::BF16 ? test::to_bf16(host) : host);
  return view;
}

// y = relu(a + b) on the CPU, from the CPU kernel.
Tensor cpu_add_relu(const Tensor& a, const Tensor& b) {
  Tensor y = Tensor::empty(a.shape(), DType::F32);
  kernels::cpu::add_relu<float>(a.numel(), a.data<float>(), b.data<float>(), y.data<float>());
  return y;
}

TEST(ElementwiseCuda, MatchesCpuExactlyInF32) {
  ASLNET_REQUIRE_GPU_OR_SKIP();
  Context ctx(Device::cuda(0));
  const Device gpu = ctx.device();
  const uint64_t seed = test::fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  Rng rng(seed);
  for (int64_t count : kCounts) {
    for (bool aligned : {true, false}) {
      if (!aligned && count > 100000) continue;
      SCOPED_TRACE("count " + std::to_string(count) + (aligned ? "" : ", misaligned"));
      const Tensor x = test::random_f32(Shape{count}, rng), g = test::random_f32(Shape{count}, rng),
                   b = test::random_f32(Shape{count}, rng);
      auto up = [&](const Tensor& t) { return aligned ? t.to(gpu) : misaligned_on(t, gpu, DType::F32); };
      const Tensor dx_in = up(x), dg = up(g), db = up(b);
      auto out = [&]() {
        return aligned ? test::poisoned(Shape{count}, DType::F32, gpu)
                       : misaligned_on(test::poisoned(Shape{count}, DType::F32, Device::cpu()), gpu, DType::F32);
      };
      Tensor y = out(), dxo = out(), sum = out(), fused = out();
      Tensor acc = up(b);
      kernels::cuda::relu_forward<float>(ctx.stream(), count, dx_in.data<float>(), y.data<float>());
      kernels::cuda::relu_backward<float>(ctx.stream(), count, y.data<float>(), dg.data<float>(), dxo.data<float>());
      kernels::cuda::add<float>(ctx.stream(), count, dx_in.data<float>(), db.data<float>(), sum.data<float>());
      kernels::cuda::add_relu<float>(ctx.stream(), count, dx_in.data<float>(), db.data<float>(), fused.data<float>());
      kernels::cuda::add_inplace<float>(ctx.stream(), count, dx_in.data<float>(), acc.data<float>());
      ctx.synchronize();

      Tensor y_ref = Tensor::empty(Shape{count}, DType::F32), dx_ref = y_ref.clone(), sum_ref = y_ref.clone();
      Tensor acc_ref = b.clone();
      kernels::cpu::relu_forward<float>(count, x.data<float>(), y_ref.data<float>());
      kernels::cpu::relu_backward<float>(count, y_ref.data<float>(), g.data<float>(), dx_ref.data<float>());
      kernels::cpu::add<float>(count, x.data<float>(), b.data<float>(), sum_ref.data<float>());
      kernels::cpu::add_inplace<float>(count, x.data<float>(), acc_ref.data<float>());
      const Tensor fused_ref = cpu_add_relu(x, b);
      // max_abs_diff would let a NaN through; max_relative_error does not.
      EXPECT_EQ(test::max_relative_error(y, y_ref), 0.0) << "relu_forward";
      EXPECT_EQ(test::max_relative_error(dxo, dx_ref), 0.0) << "relu_backward";
      EXPECT_EQ(test::max_relative_error(sum, sum_ref), 0.0) << "add";
      EXPECT_EQ(test::max_relative_error(fused, fused_ref), 0.0) << "add_relu";
      EXPECT_EQ(test::max_relative_error(acc, acc_ref), 0.0) << "add_inplace";
    }
  }
}

TEST(ElementwiseCuda, Bf16MatchesF32Reference) {
  ASLNET_REQUIRE_GPU_OR_SKIP();
  Context ctx(Device::cuda(0));
  const Device gpu = ctx.device();
  const uint64_t seed = test::fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  Rng rng(seed);
  for (int64_t count : kCounts) {
    for (bool aligned : {true, false}) {
      if (!aligned && count > 100000) continue;
      SCOPED_TRACE("count " + std::to_string(count) + (aligned ? "" : ", misaligned"));
      const Tensor x = test::random_f32(Shape{count}, rng, 1.0, true),
                   g = test::random_f32(Shape{count}, rng, 1.0, true),
                   b = test::random_f32(Shape{count}, rng, 1.0, true);
      auto up = [&](const Tensor& t) {
        return aligned ? test::to_bf16(t).to(gpu) : misaligned_on(t, gpu, DType::BF16);
      };
      const Tensor dx_in = up(x), dg = up(g), db = up(b);
      auto out = [&]() {
        return aligned ? test::poisoned(Shape{count}, DType::BF16, gpu)
                       : misaligned_on(test::to_f32(test::poisoned(Shape{count}, DType::BF16, Device::cpu())), gpu,
                                       DType::BF16);
      };
      Tensor y = out(), dxo = out(), sum = out(), fused = out();
      Tensor acc = up(b);
      using B = aslnet::bf16;
      kernels::cuda::relu_forward<B>(ctx.stream(), count, dx_in.data<B>(), y.data<B>());
      kernels::cuda::relu_backward<B>(ctx.stream(), count, y.data<B>(), dg.data<B>(), dxo.data<B>());
      kernels::cuda::add<B>(ctx.stream(), count, dx_in.data<B>(), db.data<B>(), sum.data<B>());
      kernels::cuda::add_relu<B>(ctx.stream(), count, dx_in.data<B>(), db.data<B>(), fused.data<B>());
      kernels::cuda::add_inplace<B>(ctx.stream(), count, dx_in.data<B>(), acc.data<B>());
      ctx.synchronize();

      Tensor y_ref = Tensor::empty(Shape{count}, DType::F32), dx_ref = y_ref.clone(), sum_ref = y_ref.clone();
      Tensor acc_ref = b.clone();
      kernels::cpu::relu_forward<float>(count, x.data<float>(), y_ref.data<float>());
      kernels::cpu::relu_backward<float>(count, y_ref.data<float>(), g.data<float>(), dx_ref.data<float>());
      kernels::cpu::add<float>(count, x.data<float>(), b.data<float>(), sum_ref.data<float>());
      kernels::cpu::add_inplace<float>(count, x.data<float>(), acc_ref.data<float>());
      const Tensor fused_ref = cpu_add_relu(x, b);
      // ReLU of a bf16-exact value is exact; a sum is rounded once.
      EXPECT_EQ(test::max_relative_error(y, y_ref), 0.0) << "relu_forward";
      EXPECT_EQ(test::max_relative_error(dxo, dx_ref), 0.0) << "relu_backward";
      const std::vector<std::pair<const char*, std::pair<const Tensor*, const Tensor*>>> rounded = {
          {"add", {&sum, &sum_ref}}, {"add_relu", {&fused, &fused_ref}}, {"add_inplace", {&acc, &acc_ref}}};
      for (const auto& [what, pair] : rounded) {
        EXPECT_LE(test::relative_error(*pair.first, *pair.second), 1e-2) << what;
        EXPECT_LE(test::max_relative_error(*pair.first, *pair.second), 1e-2) << what;
        // Rounded once from the fp32 sum: exactly to_bf16 of the reference.
        EXPECT_EQ(test::max_relative_error(*pair.first, test::to_f32(test::to_bf16(*pair.second))), 0.0) << what;
      }
    }
  }
}

uint16_t bits_of(bf16 b) { return b.bits; }

TEST(ElementwiseCuda, CastRoundTrip) {
  ASLNET_REQUIRE_GPU_OR_SKIP();
  Context ctx(Device::cuda(0));
  const Device gpu = ctx.device();
  const uint64_t seed = test::fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  Rng rng(seed);
  for (int64_t count : {int64_t(1), int64_t(1000), int64_t(1) << 20}) {
    SCOPED_TRACE("count " + std::to_string(count));
    Tensor x = test::random_f32(Shape{count}, rng, 10.0);
    // Values that test the rounding: exact ties (odd and even), the extremes, zeros and denormals.
    const std::vector<uint32_t> special = {0x3f808000u, 0x3f818000u, 0x3f80c000u, 0x7f7fffffu, 0xff7fffffu,
                                           0x7f800000u, 0xff800000u, 0x00000000u, 0x80000000u, 0x00000001u,
                                           0x807fffffu, 0x00408000u, 0x3f7fffffu, 0x7f7f8000u};
    float* px = x.data<float>();
    for (size_t i = 0; i < special.size() && int64_t(i) < count; ++i) std::memcpy(&px[i], &special[i], 4);
    const Tensor dx = x.to(gpu);

    Tensor b = test::poisoned(Shape{count}, DType::BF16, gpu);
    Tensor back = test::poisoned(Shape{count}, DType::F32, gpu);
    Tensor copy32 = test::poisoned(Shape{count}, DType::F32, gpu);
    Tensor copy16 = test::poisoned(Shape{count}, DType::BF16, gpu);
    kernels::cuda::cast<float, aslnet::bf16>(ctx.stream(), count, dx.data<float>(), b.data<aslnet::bf16>());
    kernels::cuda::cast<aslnet::bf16, float>(ctx.stream(), count, b.data<aslnet::bf16>(), back.data<float>());
    kernels::cuda::cast<float, float>(ctx.stream(), count, dx.data<float>(), copy32.data<float>());
    kernels::cuda::cast<aslnet::bf16, aslnet::bf16>(ctx.stream(), count, b.data<aslnet::bf16>(),
                                                    copy16.data<aslnet::bf16>());
    ctx.synchronize();

    const Tensor hb = b.to(Device::cpu()), hback = back.to(Device::cpu()), h32 = copy32.to(Device::cpu()),
                 h16 = copy16.to(Device::cpu());
    int64_t bad_round = 0, bad_widen = 0, bad_copy = 0, first_bad = -1;
    for (int64_t i = 0; i < count; ++i) {
      const uint16_t want = bits_of(aslnet::to_bf16(px[i]));
      const uint16_t got = bits_of(hb.data<aslnet::bf16>()[i]);
      if (got != want) {
        ++bad_round;
        if (first_bad < 0) first_bad = i;
      }
      uint32_t widened, expect = uint32_t(got) << 16;
      std::memcpy(&widened, &hback.data<float>()[i], 4);
      if (widened != expect) ++bad_widen;
      if (std::memcmp(&h32.data<float>()[i], &px[i], 4) != 0 || bits_of(h16.data<aslnet::bf16>()[i]) != got) ++bad_copy;
    }
    EXPECT_EQ(bad_round, 0) << "fp32 -> bf16 differs from aslnet::to_bf16, first at " << first_bad;
    EXPECT_EQ(bad_widen, 0) << "bf16 -> fp32 is not exact";
    EXPECT_EQ(bad_copy, 0) << "same-type cast is not a copy";
  }
}

TEST(ElementwiseCuda, NormalizeU8MatchesCpuPipeline) {
  ASLNET_REQUIRE_GPU_OR_SKIP();
  Context ctx(Device::cuda(0));
  const Device gpu = ctx.device();
  const uint64_t seed = test::fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  Rng rng(seed);
  for (const auto& [pixels, channels] :
       std::vector<std::pair<int64_t, int64_t>>{{1, 3}, {224 * 224 * 8 + 5, 3}, {1000, 1}, {4097, 4}}) {
    SCOPED_TRACE("pixels " + std::to_string(pixels) + ", channels " + std::to_string(channels));
    const int64_t count = pixels * channels;
    Tensor x = Tensor::empty(Shape{count}, DType::U8);
    for (int64_t i = 0; i < count; ++i) x.data<uint8_t>()[i] = uint8_t(rng.below(256));
    Tensor mean = Tensor::empty(Shape{channels}, DType::F32), stdev = mean.clone();
    for (int64_t c = 0; c < channels; ++c) {
      mean.data<float>()[c] = float(rng.uniform(0.3, 0.6));
      stdev.data<float>()[c] = float(rng.uniform(0.2, 0.3));
    }
    // The CPU pipeline's formula (data/transforms.cpp), in fp32.
    Tensor ref = Tensor::empty(Shape{count}, DType::F32);
    for (int64_t i = 0; i < count; ++i) {
      const int64_t c = i % channels;
      ref.data<float>()[i] = (float(x.data<uint8_t>()[i]) / 255.0f - mean.data<float>()[c]) / stdev.data<float>()[c];
    }
    const Tensor dx = x.to(gpu), dmean = mean.to(gpu), dstd = stdev.to(gpu);
    Tensor y32 = test::poisoned(Shape{count}, DType::F32, gpu);
    Tensor y16 = test::poisoned(Shape{count}, DType::BF16, gpu);
    kernels::cuda::normalize_u8<float>(ctx.stream(), pixels, channels, dx.data<uint8_t>(), dmean.data<float>(),
                                       dstd.data<float>(), y32.data<float>());
    kernels::cuda::normalize_u8<aslnet::bf16>(ctx.stream(), pixels, channels, dx.data<uint8_t>(), dmean.data<float>(),
                                              dstd.data<float>(), y16.data<aslnet::bf16>());
    ctx.synchronize();
    EXPECT_EQ(test::max_relative_error(y32, ref), 0.0);
    EXPECT_EQ(test::max_relative_error(y16, test::to_f32(test::to_bf16(ref))), 0.0);
    EXPECT_LE(test::relative_error(y16, ref), 1e-2);
  }
}

TEST(ElementwiseCuda, ZeroCountIsANoOp) {
  ASLNET_REQUIRE_GPU_OR_SKIP();
  Context ctx(Device::cuda(0));
  kernels::cuda::relu_forward<float>(ctx.stream(), 0, nullptr, nullptr);
  kernels::cuda::add_relu<aslnet::bf16>(ctx.stream(), 0, nullptr, nullptr, nullptr);
  kernels::cuda::cast<float, aslnet::bf16>(ctx.stream(), 0, nullptr, nullptr);
  kernels::cuda::cast<float, float>(ctx.stream(), 0, nullptr, nullptr);
  kernels::cuda::normalize_u8<float>(ctx.stream(), 0, 3, nullptr, nullptr, nullptr, nullptr);
  ctx.synchronize();
}

}  // namespace
}  // namespace aslnet
