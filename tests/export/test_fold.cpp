// The export's folding arithmetic (engine/fold.h) against the layers it replaces, on random
// weights, statistics and inputs: a convolution followed by batch norm in evaluation mode equals one
// convolution with the folded weights plus the folded bias; a convolution of the normalised input equals
// the convolution with 1/std folded in of the mean-subtracted input, at the zero-padded borders too, where
// folding the mean into the bias as well would be wrong.
#include <gtest/gtest.h>

#include <cmath>

#include "engine/fold.h"
#include "engine/layers/batchnorm.h"
#include "engine/layers/conv2d.h"
#include "engine/model.h"
#include "tests/test_util.h"

namespace aslnet {
namespace {

constexpr int64_t kIn = 3, kOut = 5, kSide = 9, kBatch = 2;

// A network of one padded 3x3 convolution (stride 2), and batch norm after it when asked.
std::unique_ptr<Model> conv_net(bool with_batch_norm) {
  auto net = std::make_unique<Sequential>();
  net->add<Conv2d>("conv", kIn, kOut, 3, 2, 1);
  if (with_batch_norm) net->add<BatchNorm2d>("bn", kOut);
  return std::make_unique<Model>(std::move(net), ModelInfo{"test"});
}

std::span<const float> values(const Tensor& t) { return {t.data<float>(), size_t(t.numel())}; }

// The network's output (NHWC) for input x (NHWC), in evaluation mode. The Model only holds the arenas:
// its own setup wants logits at the end, so the layers run directly.
Tensor run(Model& model, const Tensor& x) {
  Context ctx(Device::cpu());
  model.net().setup(ctx, x.shape(), DType::F32);
  ctx.reserve_workspace(model.net().workspace_bytes());
  return model.net().forward(ctx, x, /*training=*/false).to(Device::cpu());
}

// The largest |a - b| over the largest |b|.
double relative_difference(const Tensor& a, const Tensor& b) {
  double diff = 0, scale = 0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    diff = std::max(diff, std::abs(double(a.data<float>()[i]) - double(b.data<float>()[i])));
    scale = std::max(scale, std::abs(double(b.data<float>()[i])));
  }
  return diff / scale;
}

TEST(Fold, BatchNormIntoTheConvolutionBeforeIt) {
  Rng rng(11);
  auto reference = conv_net(true);
  for (Parameter* p : reference->parameters()) test::fill_normal(p->value, rng);
  // Running statistics far from a fresh layer's, so a wrong formula shows.
  for (StateTensor* s : reference->state()) {
    float* v = s->value.data<float>();
    const bool variance = s->name.ends_with("running_var");
    for (int64_t i = 0; i < s->value.numel(); ++i) v[i] = float(variance ? rng.uniform(0.2, 3.0) : rng.normal(0, 1));
  }
  Tensor x = test::random_f32(Shape{kBatch, kSide, kSide, kIn}, rng);
  const Tensor expected = run(*reference, x);

  const auto& p = reference->parameters();  // conv.weight, bn.weight, bn.bias
  const auto& s = reference->state();       // bn.running_mean, bn.running_var
  const FoldedConv folded = fold_batch_norm(
      values(p[0]->value), {values(p[1]->value), values(p[2]->value), values(s[0]->value), values(s[1]->value), 1e-5});
  auto plain = conv_net(false);
  std::copy(folded.weight.begin(), folded.weight.end(), plain->parameters()[0]->value.data<float>());
  Tensor actual = run(*plain, x);
  float* y = actual.data<float>();
  for (int64_t i = 0; i < actual.numel(); ++i) y[i] += folded.bias[size_t(i % kOut)];  // NHWC: channel innermost
  EXPECT_LT(relative_difference(actual, expected), 1e-5);
}

TEST(Fold, InputScaleIntoTheFirstConvolutionIsExactAtTheBorders) {
  Rng rng(12);
  const std::vector<double> mean{0.485, 0.456, 0.406}, std{0.229, 0.224, 0.225};
  auto reference = conv_net(false);
  test::fill_normal(reference->parameters()[0]->value, rng);
  // Pixels in [0, 1], normalised as the loader does, and only centred for the folded convolution.
  Tensor pixels = Tensor::empty(Shape{kBatch, kSide, kSide, kIn}, DType::F32);
  for (int64_t i = 0; i < pixels.numel(); ++i) pixels.data<float>()[i] = float(rng.uniform(0.0, 1.0));
  Tensor normalised = Tensor::empty(pixels.shape(), DType::F32), centred = Tensor::empty(pixels.shape(), DType::F32);
  for (int64_t i = 0; i < pixels.numel(); ++i) {
    const size_t c = size_t(i % kIn);
    centred.data<float>()[i] = float(pixels.data<float>()[i] - mean[c]);
    normalised.data<float>()[i] = float(centred.data<float>()[i] / std[c]);
  }
  const Tensor expected = run(*reference, normalised);

  auto folded = conv_net(false);
  Tensor& w = folded->parameters()[0]->value;
  std::copy(values(reference->parameters()[0]->value).begin(), values(reference->parameters()[0]->value).end(),
            w.data<float>());
  fold_input_scale({w.data<float>(), size_t(w.numel())}, std);
  EXPECT_LT(relative_difference(run(*folded, centred), expected), 1e-5);

  // Why the mean stays a subtraction: folded into a bias instead (sum of w * mean / std per output
  // channel, added to the convolution of the raw pixels), the padded border pixels come out wrong.
  Tensor with_bias = run(*folded, pixels);
  const float* krsc = w.data<float>();
  const int64_t per_filter = w.numel() / kOut;
  for (int64_t i = 0; i < with_bias.numel(); ++i) {
    double bias = 0;
    for (int64_t j = 0; j < per_filter; ++j) bias -= krsc[(i % kOut) * per_filter + j] * mean[size_t(j % kIn)];
    with_bias.data<float>()[i] += float(bias);
  }
  EXPECT_GT(relative_difference(with_bias, expected), 1e-3);
}

TEST(Fold, RefusesValuesOfDifferentLengths) {
  std::vector<float> weight(12, 1.0f);
  const std::vector<float> two(2, 1.0f), three(3, 1.0f);
  EXPECT_THROW(fold_batch_norm(weight, {two, two, two, three, 1e-5}), Error);
  EXPECT_THROW(fold_batch_norm(std::vector<float>(7, 1.0f), {two, two, two, two, 1e-5}), Error);
  std::vector<float> krsc(7, 1.0f);
  EXPECT_THROW(fold_input_scale(krsc, std::vector<double>{1.0, 1.0, 1.0}), Error);
  EXPECT_THROW(fold_input_scale(weight, std::vector<double>{1.0, 0.0, 1.0}), Error);
}

}  // namespace
}  // namespace aslnet
