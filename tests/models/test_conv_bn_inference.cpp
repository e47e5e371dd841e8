// Batch norm folded into the convolutions for inference (engine/layers/conv_bn_inference.h): a folded
// ResNet gives the logits of the same network run layer by layer, on random weights and running
// statistics far from a fresh layer's, for both stems and both bottleneck kinds, at image sizes whose
// last stage has rows of 4 pixels and more (oneDNN's fused convolution) and of fewer (the reference
// convolution on the folded weights, then bias and ReLU); with the reference kernels the wrapped layers
// run unchanged, bit for bit. A folded model keeps its parameters and state, and refuses to train.
#include <gtest/gtest.h>

#include "engine/layers/conv_bn_inference.h"
#include "engine/layers/residual.h"
#include "kernels/conv_onednn.h"
#include "kernels/cpu_kernels.h"
#include "models/resnet.h"
#include "tests/test_util.h"

namespace aslnet {
namespace {

// Sets the CPU kernels for one test and restores the default afterwards.
struct KernelsScope {
  explicit KernelsScope(kernels::CpuKernels k) { kernels::set_cpu_kernels(k); }
  ~KernelsScope() { kernels::set_cpu_kernels(kernels::default_cpu_kernels()); }
};

// Random weights and running statistics, the same in every model made from the same seed.
std::unique_ptr<Model> random_resnet(const std::string& arch, const std::string& stem, uint64_t seed) {
  auto model = make_resnet({arch, stem, 0.25, 29, 3});
  Rng rng(seed);
  init_torchvision(*model, rng);
  for (Parameter* p : model->parameters())
    if (p->is_norm_or_bias()) test::fill_normal(p->value, rng, 0.5);
  for (StateTensor* s : model->state()) {
    float* v = s->value.data<float>();
    const bool variance = s->name.ends_with("running_var");
    for (int64_t i = 0; i < s->value.numel(); ++i) v[i] = float(variance ? rng.uniform(0.3, 2.0) : rng.normal(0, 0.5));
  }
  return model;
}

Tensor logits(Model& model, const Tensor& x) {
  Context ctx(Device::cpu());
  model.setup(ctx, x.shape().n(), x.shape().h(), x.shape().w());
  return model.forward(ctx, x, /*training=*/false).clone();
}

// How many folded layers run on oneDNN's fused convolution, and how many on the reference one.
struct FoldedPaths {
  int onednn = 0, reference = 0;
};
void count_paths(Layer& layer, FoldedPaths& paths) {
  if (auto* fused = dynamic_cast<ConvBnInference*>(&layer)) {
    EXPECT_TRUE(fused->folded());
    ++(fused->onednn() != nullptr ? paths.onednn : paths.reference);
  } else if (auto* seq = dynamic_cast<Sequential*>(&layer)) {
    for (auto& child : seq->layers()) count_paths(*child, paths);
  } else if (auto* res = dynamic_cast<Residual*>(&layer)) {
    count_paths(res->main(), paths);
    count_paths(res->shortcut(), paths);
  }
}

struct Case {
  std::string arch, stem;
  int64_t side;
  int expected_folds;
  bool some_on_the_reference;  // a last stage with rows of under 4 pixels
};

class FoldedResNet : public ::testing::TestWithParam<Case> {};

TEST_P(FoldedResNet, GivesTheLogitsOfTheLayerByLayerNetwork) {
  if (!kernels::onednn::available()) GTEST_SKIP() << "this build has no oneDNN (the fast CPU kernels)";
  const Case c = GetParam();
  const uint64_t seed = test::fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  KernelsScope fast(kernels::CpuKernels::Fast);
  auto plain = random_resnet(c.arch, c.stem, seed);
  auto folded = random_resnet(c.arch, c.stem, seed);
  EXPECT_EQ(fold_batch_norm_for_inference(folded->net()), c.expected_folds);
  Rng rng(seed + 1);
  const Tensor x = test::random_f32(Shape{3, c.side, c.side, 3}, rng);
  const Tensor expected = logits(*plain, x), actual = logits(*folded, x);
  FoldedPaths paths;
  count_paths(folded->net(), paths);
  EXPECT_GT(paths.onednn, 0);
  EXPECT_EQ(paths.reference > 0, c.some_on_the_reference);
  // fp32, rounded differently: the folded weights are rounded once more, and the sums run in another order.
  EXPECT_LT(test::max_relative_error(actual, expected), 1e-4);
}

// resnet18: stem + 8 blocks of 2 + 3 downsamples = 20 convolutions, each with its batch norm; resnet50:
// stem + 16 blocks of 3 + 4 downsamples = 53. At 64 px the last stage's rows are 2 pixels (imagenet
// stem) or 8 (small stem, at 32 px: 4); at 128 px (imagenet) they are 4.
INSTANTIATE_TEST_SUITE_P(
    Shapes, FoldedResNet,
    ::testing::Values(Case{"resnet18", "imagenet", 64, 20, true}, Case{"resnet18", "imagenet", 128, 20, false},
                      Case{"resnet18", "small", 32, 20, false}, Case{"resnet50", "imagenet", 64, 53, true},
                      Case{"resnet50", "small", 32, 53, false}),
    [](const auto& info) { return info.param.arch + "_" + info.param.stem + "_" + std::to_string(info.param.side); });

TEST(FoldedResNetReference, RunsTheWrappedLayersBitForBit) {
  KernelsScope reference(kernels::CpuKernels::Reference);
  const uint64_t seed = test::fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  auto plain = random_resnet("resnet18", "imagenet", seed);
  auto folded = random_resnet("resnet18", "imagenet", seed);
  fold_batch_norm_for_inference(folded->net());
  Rng rng(seed + 1);
  const Tensor x = test::random_f32(Shape{2, 64, 64, 3}, rng);
  EXPECT_TRUE(test::same_bytes(logits(*folded, x), logits(*plain, x)));
}

TEST(FoldedResNetModel, KeepsItsParametersAndStateAndRefusesToTrain) {
  auto plain = random_resnet("resnet18", "imagenet", 5);
  auto folded = random_resnet("resnet18", "imagenet", 5);
  fold_batch_norm_for_inference(folded->net());
  std::vector<Parameter*> before, after;
  plain->net().collect_parameters(before);
  folded->net().collect_parameters(after);
  ASSERT_EQ(before.size(), after.size());
  for (size_t i = 0; i < before.size(); ++i) EXPECT_EQ(before[i]->name, after[i]->name);
  std::vector<StateTensor*> state_before, state_after;
  std::vector<Counter*> counters_before, counters_after;
  plain->net().collect_state(state_before, counters_before);
  folded->net().collect_state(state_after, counters_after);
  ASSERT_EQ(state_before.size(), state_after.size());
  for (size_t i = 0; i < state_before.size(); ++i) EXPECT_EQ(state_before[i]->name, state_after[i]->name);

  Context ctx(Device::cpu());
  folded->setup(ctx, 2, 32, 32);
  Rng rng(6);
  const Tensor x = test::random_f32(Shape{2, 32, 32, 3}, rng);
  EXPECT_THROW(folded->forward(ctx, x, /*training=*/true), Error);
}

}  // namespace
}  // namespace aslnet
