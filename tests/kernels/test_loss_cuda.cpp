// The one-launch CUDA softmax cross-entropy (loss sum, dlogits, top-1 hits) against the CPU kernels on
// fresh random logits, outputs poisoned first: with and without label smoothing, scale and dlogits,
// fp32 and bf16, overwrite and accumulate; the hit count exactly, ties included. The soft-target launch
// (mixup, cutmix) likewise against its CPU twin, and on one-hot targets against the hard launch, bit for bit.
// Skips without a GPU (fails instead under ASLNET_REQUIRE_GPU=1).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "engine/core/context.h"
#include "engine/core/tensor.h"
#include "kernels/loss.h"
#include "tests/test_util.h"

namespace aslnet {
namespace {

struct LossCase {
  int64_t batch, classes;
  double smoothing, scale;
  bool with_dlogits;
};

const std::vector<LossCase> kCases = {
    {256, 29, 0.0, 1.0, true},   {256, 29, 0.1, 1.0, true},   {200, 29, 0.1, 1024.0, true},
    {64, 29, 0.1, 1.0, false},   {1000, 3000, 0.2, 0.5, true}, {1024, 29, 0.05, 1.0, true},
    {1, 1, 0.0, 1.0, true},      {33, 64, 0.3, 2.0, true},     {7, 2, 0.1, 1.0, true},
};

std::string name(const LossCase& c) {
  return "batch " + std::to_string(c.batch) + ", classes " + std::to_string(c.classes) + ", smoothing " +
         std::to_string(c.smoothing) + ", scale " + std::to_string(c.scale) + (c.with_dlogits ? "" : ", no dlogits");
}

struct Inputs {
  Tensor logits;  // CPU f32 (bf16-exact when asked)
  Tensor labels;  // CPU i32
};

// Logits of std 3 (a confident network's range), labels uniform; a few rows get a tie for the largest
// logit, with the label on the first maximum (a hit) or on the second (a miss).
Inputs make_inputs(const LossCase& c, Rng& rng, bool bf16_exact) {
  Inputs in{test::random_f32(Shape{c.batch, c.classes}, rng, 3.0, bf16_exact),
            Tensor::empty(Shape{c.batch}, DType::I32)};
  float* x = in.logits.data<float>();
  int32_t* y = in.labels.data<int32_t>();
  for (int64_t i = 0; i < c.batch; ++i) y[i] = int32_t(rng.below(uint64_t(c.classes)));
  if (c.classes >= 2) {
    for (int64_t i = 0; i < c.batch; i += 5) {
      const int64_t first = int64_t(rng.below(uint64_t(c.classes - 1)));
      const int64_t second = first + 1 + int64_t(rng.below(uint64_t(c.classes - 1 - first)));
      x[i * c.classes + first] = x[i * c.classes + second] = 16.0f;  // above any N(0, 3) value here
      y[i] = int32_t((i / 5) % 2 == 0 ? first : second);
    }
  }
  return in;
}

struct GpuResult {
  Tensor loss_sum, correct, dlogits;
};

// Runs the CUDA kernel on `in`, into `out` (pre-filled for accumulate, else poisoned here).
void run_gpu(Context& ctx, const LossCase& c, const Inputs& in, bool bf16, bool accumulate, GpuResult& out) {
  const Device gpu = ctx.device();
  const Tensor logits = (bf16 ? test::to_bf16(in.logits) : in.logits).to(gpu);
  const Tensor labels = in.labels.to(gpu);
  if (!accumulate) {
    out.loss_sum = test::poisoned(Shape{1}, DType::F32, gpu);
    out.correct = test::poisoned(Shape{1}, DType::I32, gpu);
  }
  if (c.with_dlogits) out.dlogits = test::poisoned(Shape{c.batch, c.classes}, bf16 ? DType::BF16 : DType::F32, gpu);
  if (bf16) {
    kernels::cuda::softmax_cross_entropy<aslnet::bf16>(
        ctx.stream(), c.batch, c.classes, logits.data<aslnet::bf16>(), labels.data<int32_t>(), c.smoothing,
        c.with_dlogits ? out.dlogits.data<aslnet::bf16>() : nullptr, c.scale, out.loss_sum.data<float>(),
        out.correct.data<int32_t>(), accumulate);
  } else {
    kernels::cuda::softmax_cross_entropy<float>(ctx.stream(), c.batch, c.classes, logits.data<float>(),
                                                labels.data<int32_t>(), c.smoothing,
                                                c.with_dlogits ? out.dlogits.data<float>() : nullptr, c.scale,
                                                out.loss_sum.data<float>(), out.correct.data<int32_t>(), accumulate);
  }
  ctx.synchronize();
}

float read_float(const Tensor& t) { return t.to(Device::cpu()).data<float>()[0]; }
int32_t read_int(const Tensor& t) { return t.to(Device::cpu()).data<int32_t>()[0]; }

void check_case(Context& ctx, const LossCase& c, bool bf16) {
  const uint64_t seed = test::fresh_seed();
  SCOPED_TRACE(name(c) + (bf16 ? ", bf16" : ", fp32") + ", seed " + std::to_string(seed));
  Rng rng(seed);
  const Inputs a = make_inputs(c, rng, bf16), b = make_inputs(c, rng, bf16);

  // The CPU reference, on the same (bf16-exact) values.
  Tensor dlogits_ref = Tensor::empty(Shape{c.batch, c.classes}, DType::F32);
  const double mean_a = kernels::cpu::softmax_cross_entropy<float>(
      c.batch, c.classes, a.logits.data<float>(), a.labels.data<int32_t>(), c.smoothing, dlogits_ref.data<float>(),
      c.scale);
  const double mean_b = kernels::cpu::softmax_cross_entropy<float>(c.batch, c.classes, b.logits.data<float>(),
                                                                   b.labels.data<int32_t>(), c.smoothing, nullptr);
  const int64_t hits_a = kernels::cpu::top1_correct<float>(c.batch, c.classes, a.logits.data<float>(),
                                                           a.labels.data<int32_t>());
  const int64_t hits_b = kernels::cpu::top1_correct<float>(c.batch, c.classes, b.logits.data<float>(),
                                                           b.labels.data<int32_t>());

  GpuResult out;
  run_gpu(ctx, c, a, bf16, false, out);
  const float sum_a = read_float(out.loss_sum);
  EXPECT_NEAR(sum_a / double(c.batch), mean_a, 1e-5 * std::max(1.0, std::abs(mean_a))) << "loss";
  EXPECT_EQ(read_int(out.correct), hits_a) << "top-1 hits";
  if (c.with_dlogits) {
    const double tol = bf16 ? 1e-2 : 1e-5;
    EXPECT_LT(test::relative_error(out.dlogits, dlogits_ref), tol) << "dlogits: L2 relative error";
    EXPECT_LT(test::max_relative_error(out.dlogits, dlogits_ref), tol) << "dlogits: max relative error";
  }

  // Deterministic: the same inputs give the same bits.
  GpuResult again;
  run_gpu(ctx, c, a, bf16, false, again);
  EXPECT_EQ(read_float(again.loss_sum), sum_a) << "loss sum differs between identical runs";

  // Accumulate: a second batch adds to the first's results (the caller divides by the rows seen).
  LossCase eval = c;
  eval.with_dlogits = false;
  run_gpu(ctx, eval, b, bf16, true, out);
  EXPECT_NEAR(read_float(out.loss_sum) / double(2 * c.batch), (mean_a + mean_b) / 2,
              1e-5 * std::max(1.0, std::abs(mean_a + mean_b))) << "accumulated loss";
  EXPECT_EQ(read_int(out.correct), hits_a + hits_b) << "accumulated top-1 hits";
}

TEST(LossCuda, Fp32MatchesCpu) {
  ASLNET_REQUIRE_GPU_OR_SKIP();
  Context ctx(Device::cuda(0));
  for (const LossCase& c : kCases) check_case(ctx, c, false);
}

TEST(LossCuda, Bf16MatchesCpu) {
  ASLNET_REQUIRE_GPU_OR_SKIP();
  Context ctx(Device::cuda(0));
  for (const LossCase& c : kCases) check_case(ctx, c, true);
}

// A row whose logits are all equal has its first class as the prediction; large logits stay finite.
TEST(LossCuda, TiesAndLargeLogits) {
  ASLNET_REQUIRE_GPU_OR_SKIP();
  Context ctx(Device::cuda(0));
  const LossCase c{3, 4, 0.1, 1.0, true};
  Inputs in{Tensor::empty(Shape{3, 4}, DType::F32), Tensor::empty(Shape{3}, DType::I32)};
  const std::vector<float> logits{2, 2, 2, 2, 2, 2, 2, 2, 1000, 1001, 999, 1001};
  const std::vector<int32_t> labels{0, 1, 1};
  std::copy(logits.begin(), logits.end(), in.logits.data<float>());
  std::copy(labels.begin(), labels.end(), in.labels.data<int32_t>());
  Tensor dlogits_ref = Tensor::empty(Shape{3, 4}, DType::F32);
  const double mean = kernels::cpu::softmax_cross_entropy<float>(3, 4, in.logits.data<float>(),
                                                                 in.labels.data<int32_t>(), 0.1,
                                                                 dlogits_ref.data<float>(), 1.0);
  GpuResult out;
  run_gpu(ctx, c, in, false, false, out);
  // The kernel works relative to each row's largest logit, so 1000-sized logits cost no digits.
  EXPECT_NEAR(read_float(out.loss_sum) / 3.0, mean, 1e-5 * std::max(1.0, mean));
  EXPECT_EQ(read_int(out.correct), 2);  // row 0 (class 0 first), row 2 (first of the two 1001s); not row 1
  EXPECT_LT(test::max_relative_error(out.dlogits, dlogits_ref), 1e-5);
}

// Soft targets: each row mixes its label with another class (weights lambda, 1 - lambda, as mixup does)
// or, every third row, is a dense random distribution; the hits count the labels passed.
Tensor make_targets(const LossCase& c, const Inputs& in, Rng& rng) {
  Tensor t = Tensor::zeros(Shape{c.batch, c.classes}, DType::F32);
  float* p = t.data<float>();
  for (int64_t i = 0; i < c.batch; ++i) {
    float* row = p + i * c.classes;
    if (i % 3 == 2) {
      double sum = 0.0;
      for (int64_t j = 0; j < c.classes; ++j) sum += row[j] = float(rng.uniform() + 0.01);
      for (int64_t j = 0; j < c.classes; ++j) row[j] = float(row[j] / sum);
    } else {
      const float lambda = float(rng.uniform());
      row[in.labels.data<int32_t>()[i]] += lambda;
      row[rng.below(uint64_t(c.classes))] += 1.0f - lambda;
    }
  }
  return t;
}

// The soft launch on `in` and `targets` (results poisoned first unless accumulating).
void run_gpu_soft(Context& ctx, const LossCase& c, const Inputs& in, const Tensor& targets, bool bf16,
                  bool accumulate, GpuResult& out) {
  const Device gpu = ctx.device();
  const Tensor logits = (bf16 ? test::to_bf16(in.logits) : in.logits).to(gpu);
  const Tensor labels = in.labels.to(gpu), device_targets = targets.to(gpu);
  if (!accumulate) {
    out.loss_sum = test::poisoned(Shape{1}, DType::F32, gpu);
    out.correct = test::poisoned(Shape{1}, DType::I32, gpu);
  }
  if (c.with_dlogits) out.dlogits = test::poisoned(Shape{c.batch, c.classes}, bf16 ? DType::BF16 : DType::F32, gpu);
  if (bf16) {
    kernels::cuda::softmax_cross_entropy_soft<aslnet::bf16>(
        ctx.stream(), c.batch, c.classes, logits.data<aslnet::bf16>(), device_targets.data<float>(),
        labels.data<int32_t>(), c.smoothing, c.with_dlogits ? out.dlogits.data<aslnet::bf16>() : nullptr, c.scale,
        out.loss_sum.data<float>(), out.correct.data<int32_t>(), accumulate);
  } else {
    kernels::cuda::softmax_cross_entropy_soft<float>(
        ctx.stream(), c.batch, c.classes, logits.data<float>(), device_targets.data<float>(), labels.data<int32_t>(),
        c.smoothing, c.with_dlogits ? out.dlogits.data<float>() : nullptr, c.scale, out.loss_sum.data<float>(),
        out.correct.data<int32_t>(), accumulate);
  }
  ctx.synchronize();
}

void check_soft_case(Context& ctx, const LossCase& c, bool bf16) {
  const uint64_t seed = test::fresh_seed();
  SCOPED_TRACE("soft targets, " + name(c) + (bf16 ? ", bf16" : ", fp32") + ", seed " + std::to_string(seed));
  Rng rng(seed);
  const Inputs a = make_inputs(c, rng, bf16), b = make_inputs(c, rng, bf16);
  const Tensor ta = make_targets(c, a, rng), tb = make_targets(c, b, rng);

  Tensor dlogits_ref = Tensor::empty(Shape{c.batch, c.classes}, DType::F32);
  const double mean_a = kernels::cpu::softmax_cross_entropy_soft<float>(
      c.batch, c.classes, a.logits.data<float>(), ta.data<float>(), c.smoothing, dlogits_ref.data<float>(), c.scale);
  const double mean_b = kernels::cpu::softmax_cross_entropy_soft<float>(c.batch, c.classes, b.logits.data<float>(),
                                                                        tb.data<float>(), c.smoothing, nullptr);
  const int64_t hits_a = kernels::cpu::top1_correct<float>(c.batch, c.classes, a.logits.data<float>(),
                                                           a.labels.data<int32_t>());
  const int64_t hits_b = kernels::cpu::top1_correct<float>(c.batch, c.classes, b.logits.data<float>(),
                                                           b.labels.data<int32_t>());

  GpuResult out;
  run_gpu_soft(ctx, c, a, ta, bf16, false, out);
  const float sum_a = read_float(out.loss_sum);
  EXPECT_NEAR(sum_a / double(c.batch), mean_a, 1e-5 * std::max(1.0, std::abs(mean_a))) << "loss";
  EXPECT_EQ(read_int(out.correct), hits_a) << "top-1 hits";
  if (c.with_dlogits) {
    const double tol = bf16 ? 1e-2 : 1e-5;
    EXPECT_LT(test::relative_error(out.dlogits, dlogits_ref), tol) << "dlogits: L2 relative error";
    EXPECT_LT(test::max_relative_error(out.dlogits, dlogits_ref), tol) << "dlogits: max relative error";
  }
  GpuResult again;
  run_gpu_soft(ctx, c, a, ta, bf16, false, again);
  EXPECT_EQ(read_float(again.loss_sum), sum_a) << "loss sum differs between identical runs";

  LossCase eval = c;
  eval.with_dlogits = false;
  run_gpu_soft(ctx, eval, b, tb, bf16, true, out);
  EXPECT_NEAR(read_float(out.loss_sum) / double(2 * c.batch), (mean_a + mean_b) / 2,
              1e-5 * std::max(1.0, std::abs(mean_a + mean_b))) << "accumulated loss";
  EXPECT_EQ(read_int(out.correct), hits_a + hits_b) << "accumulated top-1 hits";

  // One-hot targets of the labels: the same bits as the hard-label launch.
  Tensor one_hot = Tensor::zeros(Shape{c.batch, c.classes}, DType::F32);
  for (int64_t i = 0; i < c.batch; ++i) one_hot.data<float>()[i * c.classes + a.labels.data<int32_t>()[i]] = 1.0f;
  GpuResult hard, soft;
  run_gpu(ctx, c, a, bf16, false, hard);
  run_gpu_soft(ctx, c, a, one_hot, bf16, false, soft);
  EXPECT_EQ(read_float(soft.loss_sum), read_float(hard.loss_sum)) << "one-hot soft loss != hard loss";
  EXPECT_EQ(read_int(soft.correct), read_int(hard.correct));
  if (c.with_dlogits) {
    EXPECT_EQ(test::max_abs_diff(soft.dlogits, hard.dlogits), 0.0) << "one-hot soft dlogits != hard";
  }
}

TEST(LossCuda, SoftTargetsFp32MatchCpu) {
  ASLNET_REQUIRE_GPU_OR_SKIP();
  Context ctx(Device::cuda(0));
  for (const LossCase& c : kCases) check_soft_case(ctx, c, false);
}

TEST(LossCuda, SoftTargetsBf16MatchCpu) {
  ASLNET_REQUIRE_GPU_OR_SKIP();
  Context ctx(Device::cuda(0));
  for (const LossCase& c : kCases) check_soft_case(ctx, c, true);
}

}  // namespace
}  // namespace aslnet
