// Every layer's input and parameter gradients against finite differences, in double, at several shapes
// including stride 2, padding, non-square inputs and odd sizes; then whole networks through the loss.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "engine/core/error.h"
#include "engine/layers/batchnorm.h"
#include "engine/layers/conv2d.h"
#include "engine/layers/linear.h"
#include "engine/layers/pooling.h"
#include "engine/layers/relu.h"
#include "engine/layers/residual.h"
#include "engine/loss.h"
#include "models/resnet.h"
#include "tests/engine/gradcheck.h"
#include "tests/test_util.h"

namespace aslnet::test {
namespace {

Tensor random_input(const Shape& shape, Rng& rng) {
  Tensor x = Tensor::empty(shape, DType::F64);
  fill_normal(x, rng);
  return x;
}

void expect_gradients_match(Layer& layer, const Shape& in, uint64_t seed, GradCheckOptions options = {}) {
  Rng rng(seed);
  StandaloneParams params(layer, rng);
  const auto failures = check_layer_gradients(layer, params.parameters(), random_input(in, rng), rng, options);
  EXPECT_TRUE(failures.empty()) << failures.size() << " mismatches at input " << in.str() << ", first: " << failures[0];
}

struct ConvCase {
  int64_t n, h, w, c, k, kernel, stride, pad;
};

class ConvGradCheck : public ::testing::TestWithParam<ConvCase> {};

TEST_P(ConvGradCheck, MatchesFiniteDifferences) {
  const ConvCase p = GetParam();
  Conv2d conv("conv", p.c, p.k, p.kernel, p.stride, p.pad);
  expect_gradients_match(conv, Shape{p.n, p.h, p.w, p.c}, 11);
}

INSTANTIATE_TEST_SUITE_P(Shapes, ConvGradCheck,
                         ::testing::Values(ConvCase{2, 6, 6, 3, 4, 3, 1, 1},     // 3x3 same padding
                                           ConvCase{2, 9, 6, 3, 5, 3, 2, 1},     // stride 2, non-square
                                           ConvCase{1, 11, 10, 3, 4, 7, 2, 3},   // the ImageNet stem
                                           ConvCase{2, 5, 7, 6, 3, 1, 1, 0},     // pointwise (no im2col)
                                           ConvCase{2, 7, 5, 4, 6, 1, 2, 0},     // strided 1x1 downsample
                                           ConvCase{1, 5, 6, 2, 3, 2, 1, 0},     // even kernel, no padding
                                           ConvCase{1, 4, 4, 2, 2, 5, 3, 2}));   // kernel larger than stride

TEST(LayerGradCheck, BatchNormTraining) {
  BatchNorm2d bn("bn", 4);
  expect_gradients_match(bn, Shape{2, 3, 5, 4}, 12);
  BatchNorm2d bn_single_row_per_image("bn", 3);
  expect_gradients_match(bn_single_row_per_image, Shape{4, 1, 1, 3}, 13);
}

// Frozen batch norm (evaluation mode, as torch's model.eval()): the forward normalises with the running
// statistics, so backward must be the gradient of that affine map, not of the batch-statistics one.
// The running statistics are set unlike any batch's (a random mean, a variance in [0.5, 2]), so that a
// backward that used the batch's statistics shows. The same layer is then checked in training mode: a
// training forward after an evaluation one must get the batch-statistics gradient again.
TEST(LayerGradCheck, BatchNormEvaluation) {
  for (const Shape& in : {Shape{2, 3, 5, 4}, Shape{4, 1, 1, 3}}) {
    Rng rng(22);
    BatchNorm2d bn("bn", in.c());
    StandaloneParams params(bn, rng);
    std::vector<StateTensor*> state;
    std::vector<Counter*> counters;
    bn.collect_state(state, counters);
    ASSERT_EQ(state.size(), 2u);  // running_mean, running_var
    double* running_mean = state[0]->value.data<double>();
    double* running_var = state[1]->value.data<double>();
    for (int64_t j = 0; j < in.c(); ++j) {
      running_mean[j] = rng.uniform(-1.0, 1.0);
      running_var[j] = rng.uniform(0.5, 2.0);
    }
    GradCheckOptions eval;
    eval.training = false;
    auto failures = check_layer_gradients(bn, params.parameters(), random_input(in, rng), rng, eval);
    EXPECT_TRUE(failures.empty()) << failures.size() << " mismatches in evaluation mode at input " << in.str()
                                  << ", first: " << failures[0];
    failures = check_layer_gradients(bn, params.parameters(), random_input(in, rng), rng);
    EXPECT_TRUE(failures.empty()) << failures.size() << " mismatches in training mode after evaluation at input "
                                  << in.str() << ", first: " << failures[0];
  }
}

TEST(LayerGradCheck, ReLU) {
  ReLU relu;
  expect_gradients_match(relu, Shape{2, 3, 4, 5}, 14);
}

TEST(LayerGradCheck, MaxPool) {
  MaxPool2d stem_pool(3, 2, 1);
  expect_gradients_match(stem_pool, Shape{2, 7, 6, 3}, 15);
  MaxPool2d plain(2, 2, 0);
  expect_gradients_match(plain, Shape{1, 4, 6, 2}, 16);
}

TEST(LayerGradCheck, GlobalAvgPool) {
  GlobalAvgPool pool;
  expect_gradients_match(pool, Shape{2, 3, 5, 4}, 17);
}

TEST(LayerGradCheck, Linear) {
  Linear fc("fc", 7, 5);
  expect_gradients_match(fc, Shape{3, 7}, 18);
}

TEST(LayerGradCheck, ResidualBlockWithDownsample) {
  auto main = std::make_unique<Sequential>();
  main->add<Conv2d>("b.conv1", 3, 4, 3, 2, 1);
  main->add<BatchNorm2d>("b.bn1", 4);
  main->add<ReLU>();
  main->add<Conv2d>("b.conv2", 4, 4, 3, 1, 1);
  main->add<BatchNorm2d>("b.bn2", 4);
  auto shortcut = std::make_unique<Sequential>();
  shortcut->add<Conv2d>("b.downsample.0", 3, 4, 1, 2, 0);
  shortcut->add<BatchNorm2d>("b.downsample.1", 4);
  Residual block(std::move(main), std::move(shortcut));
  expect_gradients_match(block, Shape{2, 6, 5, 3}, 19);
}

TEST(LayerGradCheck, ResidualBlockIdentity) {
  auto main = std::make_unique<Sequential>();
  main->add<Conv2d>("b.conv1", 3, 3, 3, 1, 1);
  main->add<BatchNorm2d>("b.bn1", 3);
  Residual block(std::move(main), std::make_unique<Sequential>());
  expect_gradients_match(block, Shape{2, 4, 3, 3}, 20);
}

TEST(LayerGradCheck, BatchNormAccumulatesGradients) {
  Rng rng(21);
  BatchNorm2d bn("bn", 3);
  StandaloneParams params(bn, rng);
  Context ctx;
  Tensor x = random_input(Shape{2, 2, 2, 3}, rng), g = random_input(Shape{2, 2, 2, 3}, rng);
  bn.setup(ctx, x.shape(), DType::F64);
  bn.forward(ctx, x, true);
  bn.backward(ctx, g, false);
  const Tensor once = params.parameters()[0]->grad.clone();
  bn.backward(ctx, g, true);
  for (int64_t i = 0; i < once.numel(); ++i)
    EXPECT_NEAR(params.parameters()[0]->grad.data<double>()[i], 2 * once.data<double>()[i], 1e-12);
}

TEST(LossGradCheck, SoftmaxCrossEntropyWithLabelSmoothing) {
  Rng rng(22);
  for (double smoothing : {0.0, 0.1}) {
    CrossEntropyLoss loss(smoothing);
    Context ctx;
    Tensor logits = random_input(Shape{4, 6}, rng);
    Tensor labels = Tensor::empty(Shape{4}, DType::I32);
    for (int i = 0; i < 4; ++i) labels.data<int32_t>()[i] = int32_t(rng.below(6));
    loss.forward_backward(ctx, logits, labels);
    const Tensor analytic = loss.dlogits().clone();
    for (int64_t i = 0; i < logits.numel(); ++i) {
      double* v = logits.data<double>() + i;
      const double saved = *v, eps = 1e-5;
      *v = saved + eps;
      const double plus = loss.evaluate(ctx, logits, labels).loss;
      *v = saved - eps;
      const double minus = loss.evaluate(ctx, logits, labels).loss;
      *v = saved;
      EXPECT_NEAR(analytic.data<double>()[i], (plus - minus) / (2 * eps), 1e-8) << "smoothing " << smoothing << " at " << i;
    }
  }
}

// Soft targets (mixup, cutmix): the gradient of the mean loss against random target distributions,
// by central differences of the loss itself; the hits follow the dominant labels passed.
TEST(LossGradCheck, SoftTargetsWithLabelSmoothing) {
  Rng rng(23);
  for (double smoothing : {0.0, 0.1}) {
    CrossEntropyLoss loss(smoothing);
    Context ctx;
    Tensor logits = random_input(Shape{4, 6}, rng);
    Tensor labels = Tensor::empty(Shape{4}, DType::I32);
    Tensor targets = Tensor::empty(Shape{4, 6}, DType::F32);
    for (int i = 0; i < 4; ++i) {
      double sum = 0.0;
      for (int j = 0; j < 6; ++j) sum += targets.data<float>()[i * 6 + j] = float(rng.uniform());
      for (int j = 0; j < 6; ++j) targets.data<float>()[i * 6 + j] = float(targets.data<float>()[i * 6 + j] / sum);
      labels.data<int32_t>()[i] = int32_t(std::max_element(targets.data<float>() + i * 6, targets.data<float>() + i * 6 + 6) -
                                          (targets.data<float>() + i * 6));
    }
    const double scale = 0.5;
    loss.forward_backward(ctx, logits, labels, scale, targets);
    const Tensor analytic = loss.dlogits().clone();
    for (int64_t i = 0; i < logits.numel(); ++i) {
      double* v = logits.data<double>() + i;
      const double saved = *v, eps = 1e-5;
      *v = saved + eps;
      const double plus = loss.forward_backward(ctx, logits, labels, scale, targets).loss;
      *v = saved - eps;
      const double minus = loss.forward_backward(ctx, logits, labels, scale, targets).loss;
      *v = saved;
      EXPECT_NEAR(analytic.data<double>()[i], scale * (plus - minus) / (2 * eps), 1e-8)
          << "smoothing " << smoothing << " at " << i;
    }
    // Soft targets change the loss: the same logits against the one-hot dominant labels differ.
    EXPECT_GT(std::abs(loss.forward_backward(ctx, logits, labels, scale, targets).loss -
                       loss.forward_backward(ctx, logits, labels, scale).loss),
              1e-3);
  }
}

// Bad soft targets are refused with a line that says what is wrong.
TEST(LossGradCheck, SoftTargetsAreChecked) {
  CrossEntropyLoss loss(0.1);
  Context ctx;
  Rng rng(5);
  Tensor logits = random_input(Shape{2, 3}, rng);
  Tensor labels = Tensor::zeros(Shape{2}, DType::I32);
  Tensor targets = Tensor::zeros(Shape{2, 3}, DType::F32);
  targets.data<float>()[0] = 1.0f;
  targets.data<float>()[3] = 0.5f;  // row 1 sums to 0.5
  try {
    loss.forward_backward(ctx, logits, labels, 1.0, targets);
    ADD_FAILURE() << "a target row summing to 0.5 was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("soft target row 1 sums to 0.5"), std::string::npos) << e.what();
  }
  EXPECT_THROW(loss.forward_backward(ctx, logits, labels, 1.0, Tensor::zeros(Shape{2, 4}, DType::F32)), Error);
}

// Whole networks, through the loss: the gradients of sampled parameters of every tensor. A deep,
// narrow network has so many ReLU kinks that a step of 1e-5 crosses some; 1e-6 does not.
void expect_network_gradients_match(const ModelInfo& config, int64_t size, uint64_t seed) {
  auto model = make_resnet(config, DType::F64);
  Rng rng(seed);
  Context ctx(Device::cpu(), seed);
  init_torchvision(*model, rng);
  // Move batch-norm weights and biases off their initial 1 / 0 so every term of their gradient matters.
  for (Parameter* p : model->parameters())
    if (p->is_norm_or_bias()) {
      double* v = p->value.data<double>();
      for (int64_t i = 0; i < p->shape.numel(); ++i) v[i] += 0.2 * rng.normal();
    }
  const int64_t batch = 3;
  model->setup(ctx, batch, size, size + 1);
  Tensor x = random_input(model->input_shape(), rng);
  Tensor labels = Tensor::empty(Shape{batch}, DType::I32);
  for (int i = 0; i < batch; ++i) labels.data<int32_t>()[i] = int32_t(rng.below(uint64_t(config.num_classes)));
  CrossEntropyLoss loss(0.1);
  loss.forward_backward(ctx, model->forward(ctx, x, true), labels);
  model->backward(ctx, loss.dlogits());
  const Tensor grads = model->gradient_arena().clone();
  const double* base = model->parameter_arena().data<double>();
  for (Parameter* p : model->parameters()) {
    const int64_t offset = p->value.data<double>() - base;
    for (int sample = 0; sample < 3; ++sample) {
      const int64_t i = int64_t(rng.below(uint64_t(p->shape.numel())));
      double* v = p->value.data<double>() + i;
      const double saved = *v, eps = 1e-6;
      *v = saved + eps;
      const double plus = loss.evaluate(ctx, model->forward(ctx, x, true), labels).loss;
      *v = saved - eps;
      const double minus = loss.evaluate(ctx, model->forward(ctx, x, true), labels).loss;
      *v = saved;
      const double numeric = (plus - minus) / (2 * eps), analytic = grads.data<double>()[offset + i];
      EXPECT_NEAR(analytic, numeric, 1e-7 + 1e-5 * std::abs(numeric)) << p->name << "[" << i << "]";
    }
  }
}

TEST(NetworkGradCheck, ResNet18SmallStem) { expect_network_gradients_match({"resnet18", "small", 0.0625, 5, 3}, 8, 31); }
TEST(NetworkGradCheck, ResNet18ImageNetStem) {
  expect_network_gradients_match({"resnet18", "imagenet", 0.0625, 5, 3}, 32, 32);
}
TEST(NetworkGradCheck, ResNet50SmallStem) { expect_network_gradients_match({"resnet50", "small", 0.0625, 4, 3}, 16, 33); }

}  // namespace
}  // namespace aslnet::test
