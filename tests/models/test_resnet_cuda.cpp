// A whole ResNet-18 on the GPU against the same network on the CPU (the reference the golden test pins
// to torchvision), on identical weights and inputs: train-mode logits and loss, every parameter
// gradient, and the losses of five SGD steps (momentum, weight decay, label smoothing), then an
// eval-mode forward on the running statistics both sides kept.
//
// The CPU reference runs in f64, so what is measured is the GPU's own error, not the sum of two fp32
// roundings: a ReLU network's gradient jumps where a pre-activation crosses zero, and two fp32
// computations that round differently flip a few of millions of ReLUs apart (tests/models/
// test_golden.cpp explains it at length), which is what made a CPU-fp32 reference miss 1e-3 here.
// fp32 runs with TF32 off (cuDNN FMA math, cuBLAS pedantic). bf16 mixed precision is compared on
// bf16-rounded weights and inputs, by relative error for logits and losses and by cosine similarity
// for gradients. Skips without a GPU (fails under ASLNET_REQUIRE_GPU=1).
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "engine/loss.h"
#include "engine/optimizer.h"
#include "engine/train_step.h"
#include "models/resnet.h"
#include "tests/test_util.h"

namespace aslnet {
namespace {

constexpr int64_t kClasses = 29;
constexpr int kSteps = 5;
// A small step keeps five steps out of the regime where rounding differences grow step by step.
constexpr double kLr = 0.002, kLabelSmoothing = 0.1;

// The f32 weights of `from` (parameters and statistics) widened into the f64 model `to`.
void widen_weights(const Model& from, Model& to) {
  for (auto [src, dst] : {std::pair{from.parameter_arena(), to.parameter_arena()},
                          std::pair{from.state_arena(), to.state_arena()}}) {
    ASSERT_EQ(src.numel(), dst.numel());
    for (int64_t i = 0; i < src.numel(); ++i) dst.data<double>()[i] = src.data<float>()[i];
  }
}

Tensor widen(const Tensor& f32) {
  Tensor out = Tensor::empty(f32.shape(), DType::F64);
  for (int64_t i = 0; i < f32.numel(); ++i) out.data<double>()[i] = f32.data<float>()[i];
  return out;
}

// Where each comparison is meaningful was measured on an H100, with torch's own CUDA model against
// f64 as the yardstick (bench/peers/torch_gradient_precision.py; numbers in bench/results/2026-11-22-*.md):
// - fp32 gradients: on most seeds at batch 8, 64 px (imagenet stem) the median gradient agrees with f64
//   to ~5e-6, but one pre-activation that fp32 and f64 round to opposite sides of zero flips a ReLU,
//   and in layer4 (2x2 pixels, 16,384 values) one flip moves the gradient by ~0.6%, which then reaches
//   every layer below it: seeds gave medians of 4e-6, 4.7e-4 and 5.8e-3 (worst 8.2e-3); with the small
//   stem at batch 16, 96 px, the median is ~4e-3 on every seed (many flips, each small). Any fp32
//   implementation has this; a wrong backward (a lost residual branch, a batch-norm term) is off by
//   10% or more. So: each gradient within 3e-2, the median within 1.5e-2. The kernels' own tests hold
//   every layer's backward to 1e-4 on inputs without this sensitivity.
// - fp32 training losses: with the small stem, batch 16, 96 px, five steps stay within 1.2e-6 of f64;
//   with the imagenet stem at batch 8 the difference grows about tenfold per step (2x2-pixel layer4,
//   batch norm over 32 values), past 1e-4 by step 4, again in any fp32 implementation. In bf16 the
//   same growth took step 5 to 3.6%: the imagenet-stem cases do not check steps.
// - bf16 gradients: torch's autocast gradients have a cosine similarity to f64 of 0.89-0.92 at worst
//   and 0.945-0.96 at the median (the same batch-norm cancellation, now at bf16's 3 digits), so the
//   issue's 0.99 is unreachable for any bf16 network with training-mode batch norm; aslnet must do as
//   well as torch at the median (>= 0.93) and stay clear of a wrong gradient (cosine near 0) on each.
constexpr double kWorstFp32Error = 3e-2, kMedianFp32Error = 1.5e-2;
constexpr double kWorstBf16Cosine = 0.8, kMedianBf16Cosine = 0.93;

struct Case {
  const char* name;
  DType dtype;
  const char* stem;
  int64_t batch, size;
  bool check_gradients, check_steps;
};

class ResNetCuda : public ::testing::TestWithParam<Case> {};

TEST_P(ResNetCuda, MatchesTheCpuModel) {
  ASLNET_REQUIRE_GPU_OR_SKIP();
  const Case c = GetParam();
  const bool bf16 = c.dtype == DType::BF16;
  const uint64_t seed = test::fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));

  Context cpu(Device::cpu(), seed);
  Context gpu(Device::cuda(0), seed);
  gpu.set_allow_tf32(false);
  const ModelInfo info{"resnet18", c.stem, 1.0, kClasses, 3};
  auto init = make_model(info);
  init_torchvision(*init, cpu.rng());
  if (bf16) {
    // Both sides start from the same bf16-representable weights.
    Tensor w = init->parameter_arena();
    const Tensor rounded = test::to_f32(test::to_bf16(w));
    w.copy_from(rounded);
  }
  auto model = make_model(info, c.dtype, Device::cuda(0));
  model->copy_weights_from(*init);
  auto ref = make_model(info, DType::F64);
  widen_weights(*init, *ref);
  ref->setup(cpu, c.batch, c.size, c.size);
  model->setup(gpu, c.batch, c.size, c.size);

  Rng rng(seed + 1);
  const Tensor images = test::random_f32(Shape{c.batch, c.size, c.size, 3}, rng, 1.0, bf16);
  Tensor labels = Tensor::empty(Shape{c.batch}, DType::I32);
  for (int64_t i = 0; i < c.batch; ++i) labels.data<int32_t>()[i] = int32_t(rng.uniform(0, kClasses)) % kClasses;
  const Tensor gpu_images = bf16 ? test::to_bf16(images).to(gpu.device()) : images.to(gpu.device());
  const Tensor gpu_labels = labels.to(gpu.device());

  // One forward and backward: logits, loss, every gradient.
  CrossEntropyLoss ref_loss(kLabelSmoothing), loss(kLabelSmoothing);
  const Tensor& ref_logits = ref->forward(cpu, widen(images), true);
  const LossResult ref_r = ref_loss.forward_backward(cpu, ref_logits, labels);
  ref->backward(cpu, ref_loss.dlogits());
  const Tensor logits = model->forward(gpu, gpu_images, true).clone();
  const LossResult r = loss.forward_backward(gpu, logits, gpu_labels);
  model->backward(gpu, loss.dlogits());
  gpu.synchronize();

  const double logit_tol = bf16 ? 3e-2 : 1e-4;
  EXPECT_LT(test::relative_error(logits, ref_logits), logit_tol);
  EXPECT_NEAR(r.loss, ref_r.loss, (bf16 ? 2e-2 : 1e-4) * std::abs(ref_r.loss));
  EXPECT_EQ(loss.dlogits().device(), gpu.device());
  // Each gradient's relative error (fp32) or cosine similarity (bf16), where a batch norm's weight and
  // bias count as one tensor: a bias gradient is a sum of terms that largely cancel, so on its own its
  // error is rounding divided by a near-zero norm (1.5e-2 on one seed, in torch's own fp32 model too),
  // while against the layer's gradient it is ~1e-6.
  double worst = bf16 ? 1.0 : 0.0;
  std::string worst_name;
  std::vector<double> measures;
  auto sums = [](const Tensor& a, const Tensor& b) {  // {a.b, |a|^2, |b|^2, |a - b|^2}
    const Tensor x = test::to_f32(a), y = test::to_f32(b);
    std::array<double, 4> s{};
    for (int64_t i = 0; i < x.numel(); ++i) {
      const double u = x.data<float>()[i], v = y.data<float>()[i];
      s[0] += u * v, s[1] += u * u, s[2] += v * v, s[3] += (u - v) * (u - v);
    }
    return s;
  };
  for (size_t i = 0; i < ref->parameters().size(); ++i) {
    const Parameter* p = ref->parameters()[i];
    ASSERT_EQ(p->name, model->parameters()[i]->name);
    const bool norm = p->role == ParamRole::NormBias || p->role == ParamRole::NormWeight;
    const size_t first = p->role == ParamRole::NormBias ? i - 1 : i;  // a batch norm's weight, then its bias
    std::array<double, 4> s{};
    for (size_t j = first; j < (norm ? first + 2 : i + 1); ++j) {
      const auto t = sums(model->parameters()[j]->grad, ref->parameters()[j]->grad);
      for (size_t k = 0; k < 4; ++k) s[k] += t[k];
    }
    double e = 0;
    if (bf16)
      e = s[1] > 0 && s[2] > 0 ? s[0] / std::sqrt(s[1] * s[2]) : (s[1] == s[2] ? 1.0 : 0.0);
    else
      e = s[2] > 0 ? std::sqrt(s[3] / s[2]) : std::sqrt(s[3]);
    measures.push_back(e);
    if (bf16 ? e < worst : e > worst) worst = e, worst_name = p->name;
    if (!c.check_gradients) continue;
    if (bf16)
      EXPECT_GE(e, kWorstBf16Cosine) << p->name;
    else
      EXPECT_LT(e, kWorstFp32Error) << p->name;
  }
  std::sort(measures.begin(), measures.end());
  const double median = measures[measures.size() / 2];
  if (c.check_gradients) {
    if (bf16)
      EXPECT_GE(median, kMedianBf16Cosine);
    else
      EXPECT_LT(median, kMedianFp32Error);
  }
  std::printf("%s: logits rel. error %.3g, loss %.6f vs %.6f, gradients: worst %s %.4g (%s), median %.4g\n",
              c.name, test::relative_error(logits, ref_logits), r.loss, ref_r.loss,
              bf16 ? "cosine" : "rel. error", worst, worst_name.c_str(), median);

  // Training steps on fresh batches: the losses must track each other.
  OptimizerConfig sgd{.kind = "sgd", .momentum = 0.9, .nesterov = false, .weight_decay = 5e-4};
  Optimizer ref_opt(*ref, sgd), opt(*model, sgd);
  for (int step = 0; step < kSteps; ++step) {
    const Tensor x = test::random_f32(Shape{c.batch, c.size, c.size, 3}, rng, 1.0, bf16);
    const Tensor gx = bf16 ? test::to_bf16(x).to(gpu.device()) : x.to(gpu.device());
    const double a = train_step(cpu, *ref, ref_loss, ref_opt, widen(x), labels, kLr).loss;
    const double b = train_step(gpu, *model, loss, opt, gx, gpu_labels, kLr).loss;
    if (c.check_steps) {
      EXPECT_NEAR(b, a, (bf16 ? 2e-2 : 1e-4) * std::abs(a)) << "step " << step + 1;
    }
    std::printf("%s: step %d loss %.6f (cpu f64 %.6f, rel. %.2g)\n", c.name, step + 1, b, a, std::abs(b - a) / a);
  }

  // Eval mode on the running statistics both sides accumulated.
  const Tensor& ref_eval = ref->forward(cpu, widen(images), false);
  const Tensor eval = model->forward(gpu, gpu_images, false).clone();
  const double eval_error = test::relative_error(eval, ref_eval);
  std::printf("%s: eval-mode logits after the steps, rel. error %.3g\n", c.name, eval_error);
  // bf16 eval logits after five steps move by ~10% (running statistics of bf16 activations over tiny
  // batches): printed, not checked.
  if (c.check_steps && !bf16) {
    EXPECT_LT(eval_error, 1e-3);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Precisions, ResNetCuda,
    ::testing::Values(Case{"fp32_imagenet_gradients", DType::F32, "imagenet", 8, 64, true, false},
                      Case{"fp32_small", DType::F32, "small", 16, 96, true, true},
                      Case{"bf16_imagenet", DType::BF16, "imagenet", 8, 64, true, false},
                      Case{"bf16_small", DType::BF16, "small", 16, 96, true, true}),
    [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace aslnet
