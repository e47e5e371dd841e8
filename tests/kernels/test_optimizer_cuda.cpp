// The fused CUDA optimizer steps against a CPU loop that applies engine/optimizer.cpp's rules (torch's)
// over the same decay spans: several steps of SGD (plain, momentum, Nesterov) and AdamW, weight decay
// with some spans exempt, a learning rate that changes every step (read from device memory), the
// vectorised path (aligned arena, a length that is no multiple of four, spans that split a vector) and
// the element-wise one (a misaligned arena). The bf16 copy must equal bf16(param) bit for bit. With an
// EMA, the average (started away from the weights) follows each step with the warming-up decay
// d_t = min(0.99, (1 + t) / (10 + t)), also read from the device; ema_update does the same alone.
// Skips without a GPU (fails instead under ASLNET_REQUIRE_GPU=1).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "engine/core/buffer.h"
#include "engine/core/context.h"
#include "engine/core/cuda_check.h"
#include "engine/core/tensor.h"
#include "kernels/optimizer.h"
#include "tests/test_util.h"

namespace aslnet {
namespace {

using kernels::cuda::DecaySpans;
using kernels::cuda::StepHyper;

static_assert(sizeof(StepHyper) == 5 * sizeof(float), "StepHyper is copied to the device as five 4-byte words");

enum class Kind { Sgd, AdamW };

struct OptCase {
  Kind kind;
  float momentum = 0.0f;
  bool nesterov = false;
  bool bf16_copy = true;
  int64_t offset = 0;  // elements before the arena in every buffer: 1 misaligns it (element-wise path)
  bool ema = false;
};

std::string name(const OptCase& c) {
  std::string s = c.kind == Kind::Sgd ? "sgd, momentum " + std::to_string(c.momentum) : std::string("adamw");
  if (c.nesterov) s += ", nesterov";
  s += c.bf16_copy ? ", bf16 copy" : ", no bf16 copy";
  return s + ", offset " + std::to_string(c.offset) + (c.ema ? ", ema" : "");
}

constexpr double kEmaDecay = 0.99;
// 1 - d_t for the update after t earlier ones (engine/optimizer.h), rounded as the optimizer rounds it.
float ema_rate(int earlier_steps) {
  return float(1.0 - std::min(kEmaDecay, (1.0 + earlier_steps) / (10.0 + earlier_steps)));
}

// Parameter tensors of a small network: odd sizes, so spans split float4 vectors; every other span
// exempt from decay (batch-norm and bias parameters), as the engine's default configuration has them.
const std::vector<int64_t> kSpanSizes = {1000, 37, 64, 1, 4099, 12, 3, 100003, 256, 29};

constexpr int kSteps = 5;
constexpr double kWeightDecay = 0.05;
constexpr double kBeta1 = 0.9, kBeta2 = 0.999, kEps = 1e-8;

Tensor bytes_on(Device device, const void* data, size_t bytes) {
  return Tensor::view(const_cast<void*>(data), Shape{int64_t(bytes)}, DType::U8).to(device);
}

Tensor floats(const std::vector<float>& v) {
  return Tensor::view(const_cast<float*>(v.data()), Shape{int64_t(v.size())}, DType::F32);
}

void check_optimizer(Context& ctx, const OptCase& c) {
  const uint64_t seed = test::fresh_seed();
  SCOPED_TRACE(name(c) + ", seed " + std::to_string(seed));
  Rng rng(seed);
  const Device gpu = ctx.device();

  // The spans, on the host and on the device.
  std::vector<int64_t> ends;
  std::vector<float> decay;
  int64_t count = 0;
  for (size_t s = 0; s < kSpanSizes.size(); ++s) {
    count += kSpanSizes[s];
    ends.push_back(count);
    decay.push_back(s % 2 == 0 ? float(kWeightDecay) : 0.0f);
  }
  const Tensor ends_dev = bytes_on(gpu, ends.data(), ends.size() * sizeof(int64_t));
  const Tensor decay_dev = bytes_on(gpu, decay.data(), decay.size() * sizeof(float));
  const DecaySpans spans{static_cast<const int64_t*>(ends_dev.raw()), static_cast<const float*>(decay_dev.raw()),
                         int(ends.size())};

  // The arena (with `offset` elements in front) and the optimizer state, zero-initialised as torch's.
  const int64_t total = count + c.offset;
  const Tensor param0 = test::random_f32(Shape{total}, rng);
  Tensor param = param0.to(gpu);
  Tensor first = Tensor::zeros(Shape{total}, DType::F32, gpu), second = Tensor::zeros(Shape{total}, DType::F32, gpu);
  Tensor copy = test::poisoned(Shape{total}, DType::BF16, gpu);
  Tensor hyper = Tensor::zeros(Shape{5}, DType::F32, gpu);
  Tensor grad = Tensor::zeros(Shape{total}, DType::F32, gpu);
  // The average starts away from the weights, so that a kernel that copied p would be caught.
  const Tensor ema0 = test::random_f32(Shape{total}, rng);
  Tensor ema = ema0.to(gpu);
  std::vector<float> e(ema0.data<float>() + c.offset, ema0.data<float>() + total);

  // The CPU reference state.
  std::vector<float> p(param0.data<float>() + c.offset, param0.data<float>() + total);
  std::vector<float> m(size_t(count), 0.0f), v(size_t(count), 0.0f);

  const bool sgd = c.kind == Kind::Sgd;
  const double base_lr = sgd ? 0.1 : 1e-3;
  for (int step = 1; step <= kSteps; ++step) {
    const double lr = base_lr * (1.0 - 0.15 * step);  // changes every step: must be read from the device
    const double bc1 = 1.0 - std::pow(kBeta1, double(step)), bc2 = 1.0 - std::pow(kBeta2, double(step));
    const Tensor g = test::random_f32(Shape{total}, rng);
    grad.copy_from(g);
    const float rate = ema_rate(step - 1);
    const std::vector<float> hyper_host{float(lr), float(bc1), float(bc2), c.ema ? rate : 0.0f, 0.0f};
    // The previous step's kernel has finished (synchronize below), so overwriting its values is safe.
    hyper.copy_from(floats(hyper_host));

    float* pd = param.data<float>() + c.offset;
    const float* gd = grad.data<float>() + c.offset;
    bf16* cd = c.bf16_copy ? copy.data<bf16>() + c.offset : nullptr;
    float* ed = c.ema ? ema.data<float>() + c.offset : nullptr;
    const auto* hd = static_cast<const StepHyper*>(hyper.raw());
    if (sgd) {
      float* buf = c.momentum != 0.0f ? first.data<float>() + c.offset : nullptr;
      kernels::cuda::sgd_step(ctx.stream(), count, pd, gd, buf, cd, ed, spans, hd, c.momentum, c.nesterov);
    } else {
      kernels::cuda::adamw_step(ctx.stream(), count, pd, gd, first.data<float>() + c.offset,
                                second.data<float>() + c.offset, cd, ed, spans, hd, kBeta1, kBeta2, kEps);
    }
    ctx.synchronize();

    // engine/optimizer.cpp, span by span.
    const float* gh = g.data<float>() + c.offset;
    int64_t begin = 0;
    for (size_t s = 0; s < ends.size(); ++s) {
      if (sgd) {
        const float wd = decay[s], rate = float(lr), mu = c.momentum;
        for (int64_t i = begin; i < ends[s]; ++i) {
          if (c.momentum == 0.0f) {
            p[i] -= rate * (gh[i] + wd * p[i]);
            continue;
          }
          const float gi = gh[i] + wd * p[i];
          m[i] = mu * m[i] + gi;
          p[i] -= rate * (c.nesterov ? gi + mu * m[i] : m[i]);
        }
      } else {
        const double shrink = 1.0 - lr * double(decay[s]), step_size = lr / bc1, root_bc2 = std::sqrt(bc2);
        for (int64_t i = begin; i < ends[s]; ++i) {
          const double gi = gh[i];
          const double mi = kBeta1 * double(m[i]) + (1.0 - kBeta1) * gi;
          const double vi = kBeta2 * double(v[i]) + (1.0 - kBeta2) * gi * gi;
          m[i] = float(mi);
          v[i] = float(vi);
          p[i] = float(double(p[i]) * shrink - step_size * mi / (std::sqrt(vi) / root_bc2 + kEps));
        }
      }
      begin = ends[s];
    }
    if (c.ema)
      for (int64_t i = 0; i < count; ++i) e[i] += rate * (p[i] - e[i]);
  }

  auto expect_close = [&](const char* what, const Tensor& gpu_buffer, const std::vector<float>& reference) {
    const Tensor actual = gpu_buffer.to(Device::cpu()).slice(c.offset, Shape{count});
    EXPECT_LT(test::relative_error(actual, floats(reference)), 1e-6) << what << ": L2 relative error";
    EXPECT_LT(test::max_relative_error(actual, floats(reference)), 1e-6) << what << ": max relative error";
  };
  expect_close("param", param, p);
  if (sgd && c.momentum != 0.0f) expect_close("momentum buffer", first, m);
  if (!sgd) {
    expect_close("exp_avg", first, m);
    expect_close("exp_avg_sq", second, v);
  }
  if (c.ema) {
    expect_close("ema", ema, e);
  } else {
    EXPECT_EQ(std::memcmp(ema.to(Device::cpu()).raw(), ema0.raw(), ema0.bytes()), 0) << "ema written while off";
  }

  // The untouched elements in front of the arena stay as they were.
  if (c.offset > 0) {
    const Tensor host = param.to(Device::cpu());
    EXPECT_EQ(std::memcmp(host.data<float>(), param0.data<float>(), size_t(c.offset) * sizeof(float)), 0);
    const Tensor ema_host = ema.to(Device::cpu());
    EXPECT_EQ(std::memcmp(ema_host.data<float>(), ema0.data<float>(), size_t(c.offset) * sizeof(float)), 0);
  }

  if (c.bf16_copy) {
    const Tensor gpu_param = param.to(Device::cpu()).slice(c.offset, Shape{count});
    const Tensor expected = test::to_bf16(gpu_param);
    const Tensor actual = copy.to(Device::cpu()).slice(c.offset, Shape{count});
    int64_t mismatches = 0, first_bad = -1;
    for (int64_t i = 0; i < count; ++i)
      if (actual.data<bf16>()[i].bits != expected.data<bf16>()[i].bits) {
        if (first_bad < 0) first_bad = i;
        ++mismatches;
      }
    EXPECT_EQ(mismatches, 0) << "bf16 copy differs from bf16(param), first at element " << first_bad;
  }
}

TEST(OptimizerCuda, SgdMatchesCpu) {
  ASLNET_REQUIRE_GPU_OR_SKIP();
  Context ctx(Device::cuda(0));
  for (int64_t offset : {0, 1}) {
    check_optimizer(ctx, {Kind::Sgd, 0.0f, false, true, offset});
    check_optimizer(ctx, {Kind::Sgd, 0.0f, false, false, offset});
    check_optimizer(ctx, {Kind::Sgd, 0.9f, false, true, offset});
    check_optimizer(ctx, {Kind::Sgd, 0.9f, true, true, offset});
    check_optimizer(ctx, {Kind::Sgd, 0.9f, true, false, offset});
  }
}

TEST(OptimizerCuda, AdamWMatchesCpu) {
  ASLNET_REQUIRE_GPU_OR_SKIP();
  Context ctx(Device::cuda(0));
  for (int64_t offset : {0, 1}) {
    check_optimizer(ctx, {Kind::AdamW, 0.0f, false, true, offset});
    check_optimizer(ctx, {Kind::AdamW, 0.0f, false, false, offset});
  }
}

TEST(OptimizerCuda, EmaFollowsTheUpdateInBothKernels) {
  ASLNET_REQUIRE_GPU_OR_SKIP();
  Context ctx(Device::cuda(0));
  for (int64_t offset : {0, 1}) {
    check_optimizer(ctx, {Kind::Sgd, 0.0f, false, false, offset, true});
    check_optimizer(ctx, {Kind::Sgd, 0.9f, true, true, offset, true});
    check_optimizer(ctx, {Kind::AdamW, 0.0f, false, true, offset, true});
  }
}

TEST(OptimizerCuda, EmaUpdateMatchesCpu) {
  ASLNET_REQUIRE_GPU_OR_SKIP();
  Context ctx(Device::cuda(0));
  const uint64_t seed = test::fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  Rng rng(seed);
  for (int64_t count : {int64_t(1), int64_t(777), int64_t(70001)}) {
    const Tensor ema0 = test::random_f32(Shape{count}, rng), value = test::random_f32(Shape{count}, rng);
    Tensor ema = ema0.to(ctx.device());
    const Tensor value_dev = value.to(ctx.device());
    const float rate = ema_rate(3);
    const Tensor hyper = floats({0.0f, 1.0f, 1.0f, rate, 0.0f}).to(ctx.device());
    kernels::cuda::ema_update(ctx.stream(), count, ema.data<float>(), value_dev.data<float>(),
                              static_cast<const StepHyper*>(hyper.raw()));
    ctx.synchronize();
    std::vector<float> e(ema0.data<float>(), ema0.data<float>() + count);
    for (int64_t i = 0; i < count; ++i) e[size_t(i)] += rate * (value.data<float>()[i] - e[size_t(i)]);
    const Tensor actual = ema.to(Device::cpu());
    EXPECT_LT(test::max_relative_error(actual, floats(e)), 1e-6) << count << " elements";
  }
}

// flag_non_finite against a host scan, at aligned and misaligned starts, with the bad value anywhere
// (vector body or tail); the flag keeps the first step that set it; an update given a set flag changes
// nothing.
TEST(OptimizerCuda, FlagNonFiniteRecordsTheFirstBadStepAndTheUpdateThenRefuses) {
  ASLNET_REQUIRE_GPU_OR_SKIP();
  Context ctx(Device::cuda(0));
  const uint64_t seed = test::fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  Rng rng(seed);
  auto hyper_for = [&](int32_t step) {
    StepHyper h{0.1f, 1.0f, 1.0f, 0.0f, step};
    Tensor t = Tensor::empty(Shape{5}, DType::F32, ctx.device());
    CUDA_CHECK(cudaMemcpy(t.raw(), &h, sizeof h, cudaMemcpyHostToDevice));
    return t;
  };
  auto flag_value = [&](const Tensor& flag) {
    ctx.synchronize();
    return flag.to(Device::cpu()).data<int32_t>()[0];
  };
  for (int64_t offset : {0, 1}) {
    for (int64_t count : {int64_t(3), int64_t(4099), int64_t(70001)}) {
      Tensor values = test::random_f32(Shape{count + offset}, rng);
      Tensor flag = Tensor::zeros(Shape{1}, DType::I32, ctx.device());
      Tensor dev = values.to(ctx.device());
      const float* data = dev.data<float>() + offset;
      kernels::cuda::flag_non_finite(ctx.stream(), count, data, static_cast<const StepHyper*>(hyper_for(3).raw()),
                                     flag.data<int32_t>());
      EXPECT_EQ(flag_value(flag), 0) << count << " finite values, offset " << offset;
      const int64_t at = int64_t(rng.below(uint64_t(count)));
      values.data<float>()[offset + at] = at % 2 ? std::numeric_limits<float>::infinity() : std::nanf("");
      dev = values.to(ctx.device());
      data = dev.data<float>() + offset;
      kernels::cuda::flag_non_finite(ctx.stream(), count, data, static_cast<const StepHyper*>(hyper_for(4).raw()),
                                     flag.data<int32_t>());
      EXPECT_EQ(flag_value(flag), 4) << "bad value at " << at << " of " << count << ", offset " << offset;
      kernels::cuda::flag_non_finite(ctx.stream(), count, data, static_cast<const StepHyper*>(hyper_for(9).raw()),
                                     flag.data<int32_t>());
      EXPECT_EQ(flag_value(flag), 4) << "the first bad step is kept";
    }
  }
  // A set flag: the update, its bf16 copy and the average stay as they were.
  constexpr int64_t kCount = 1000;
  const Tensor param0 = test::random_f32(Shape{kCount}, rng);
  Tensor param = param0.to(ctx.device()), ema = param0.to(ctx.device());
  const Tensor grad = test::random_f32(Shape{kCount}, rng).to(ctx.device());
  Tensor momentum = Tensor::zeros(Shape{kCount}, DType::F32, ctx.device());
  Tensor set = Tensor::zeros(Shape{1}, DType::I32, ctx.device());
  const int32_t one = 1;
  CUDA_CHECK(cudaMemcpy(set.raw(), &one, sizeof one, cudaMemcpyHostToDevice));
  const int64_t end = kCount;
  Buffer ends = Buffer::device(sizeof end, 0);
  CUDA_CHECK(cudaMemcpy(ends.data(), &end, sizeof end, cudaMemcpyHostToDevice));
  const Tensor decay = floats({0.0f}).to(ctx.device());
  const DecaySpans spans{static_cast<const int64_t*>(ends.data()), decay.data<float>(), 1};
  const Tensor hyper = hyper_for(5);
  const auto* h = static_cast<const StepHyper*>(hyper.raw());
  kernels::cuda::sgd_step(ctx.stream(), kCount, param.data<float>(), grad.data<float>(), momentum.data<float>(),
                          nullptr, ema.data<float>(), spans, h, 0.9f, false, set.data<int32_t>());
  kernels::cuda::adamw_step(ctx.stream(), kCount, param.data<float>(), grad.data<float>(), momentum.data<float>(),
                            momentum.data<float>(), nullptr, ema.data<float>(), spans, h, 0.9, 0.999, 1e-8,
                            set.data<int32_t>());
  kernels::cuda::ema_update(ctx.stream(), kCount, ema.data<float>(), grad.data<float>(), h, set.data<int32_t>());
  ctx.synchronize();
  EXPECT_TRUE(test::same_bytes(param, param0));
  EXPECT_TRUE(test::same_bytes(ema, param0));
  EXPECT_EQ(test::max_abs_diff(momentum.to(Device::cpu()), Tensor::zeros(Shape{kCount}, DType::F32, Device::cpu())),
            0.0);
}

}  // namespace
}  // namespace aslnet
