// The ResNet builders: torchvision's parameter names, counts and order, both stems, the width
// multiplier, initialisation statistics, and the arena layout (reverse layer order).
#include <gtest/gtest.h>

#include <cmath>

#include "models/resnet.h"
#include "tests/test_util.h"

namespace aslnet {
namespace {

TEST(ResNet, ParameterCountsMatchTorchvision) {
  // torchvision's counts with a 29-class head: resnet18 11,689,512 - 1000-class fc + 29-class fc, etc.
  EXPECT_EQ(make_resnet({"resnet18", "imagenet", 1.0, 29, 3})->parameter_count(), 11191389);
  EXPECT_EQ(make_resnet({"resnet34", "imagenet", 1.0, 29, 3})->parameter_count(), 21299549);
  EXPECT_EQ(make_resnet({"resnet50", "imagenet", 1.0, 29, 3})->parameter_count(), 23567453);
  EXPECT_EQ(make_resnet({"resnet50", "imagenet", 1.0, 1000, 3})->parameter_count(), 25557032);
  EXPECT_EQ(make_resnet({"resnet18", "imagenet", 1.0, 1000, 3})->parameter_count(), 11689512);
}

TEST(ResNet, NamesFollowTorchvision) {
  auto model = make_resnet({"resnet50", "imagenet", 1.0, 29, 3});
  const auto& params = model->parameters();
  EXPECT_EQ(params.front()->name, "conv1.weight");
  EXPECT_EQ(params.back()->name, "fc.bias");
  for (const char* name : {"bn1.weight", "layer1.0.conv3.weight", "layer1.0.downsample.0.weight",
                           "layer1.0.downsample.1.bias", "layer4.2.bn3.weight", "fc.weight"})
    EXPECT_NE(model->find_parameter(name), nullptr) << name;
  EXPECT_EQ(model->find_parameter("layer1.1.downsample.0.weight"), nullptr);
  EXPECT_EQ(model->find_parameter("layer2.0.conv2.weight")->shape, (Shape{128, 3, 3, 128}));  // KRSC
  EXPECT_EQ(model->state().front()->name, "bn1.running_mean");
  EXPECT_EQ(model->counters().front()->name, "bn1.num_batches_tracked");
  auto small = make_resnet({"resnet18", "small", 1.0, 29, 3});
  EXPECT_EQ(small->find_parameter("conv1.weight")->shape, (Shape{64, 3, 3, 3}));
  EXPECT_EQ(small->find_parameter("layer1.0.downsample.0.weight"), nullptr);  // BasicBlock 64 -> 64
}

TEST(ResNet, ArenaHoldsParametersInReverseLayerOrder) {
  auto model = make_resnet({"resnet18", "small", 0.25, 29, 3});
  const float* base = model->parameter_arena().data<float>();
  EXPECT_EQ(model->find_parameter("fc.bias")->value.data<float>(), base);  // the last layer comes first
  const Parameter* previous = nullptr;
  for (auto it = model->parameters().rbegin(); it != model->parameters().rend(); ++it) {
    const float* at = (*it)->value.data<float>();
    EXPECT_EQ(reinterpret_cast<uintptr_t>(at) % 64, 0u) << (*it)->name;
    if (previous) {
      EXPECT_GE(at, previous->value.data<float>() + previous->shape.numel()) << (*it)->name;
    }
    previous = *it;
  }
  EXPECT_EQ(model->gradient_arena().numel(), model->parameter_arena().numel());
}

TEST(ResNet, OutputShapesForBothStemsAndWidths) {
  for (const char* arch : {"resnet18", "resnet34", "resnet50"})
    for (const char* stem : {"imagenet", "small"}) {
      auto model = make_resnet({arch, stem, 0.125, 29, 3});
      Context ctx;
      init_torchvision(*model, ctx.rng());
      model->setup(ctx, 2, 40, 36);
      Tensor x = Tensor::zeros(model->input_shape(), DType::F32);
      const Tensor& logits = model->forward(ctx, x, false);
      EXPECT_EQ(logits.shape(), (Shape{2, 29})) << arch << " " << stem;
    }
  EXPECT_THROW(make_resnet({"resnet19", "imagenet", 1.0, 29, 3}), Error);
  EXPECT_THROW(make_resnet({"resnet18", "tiny", 1.0, 29, 3}), Error);
}

TEST(ResNet, InitialisationFollowsTorchvision) {
  auto model = make_resnet({"resnet50", "imagenet", 1.0, 29, 3});
  Rng rng(3);
  init_torchvision(*model, rng, /*zero_init_residual=*/true);
  const Parameter* conv = model->find_parameter("layer3.0.conv2.weight");  // 256 x 3 x 3 x 256
  double sq = 0;
  for (int64_t i = 0; i < conv->shape.numel(); ++i) sq += std::pow(conv->value.data<float>()[i], 2);
  EXPECT_NEAR(std::sqrt(sq / double(conv->shape.numel())), std::sqrt(2.0 / (256 * 9)), 0.002);
  EXPECT_EQ(model->find_parameter("layer3.0.bn3.weight")->value.data<float>()[0], 0.0f);  // zero-init residual
  EXPECT_EQ(model->find_parameter("layer3.0.bn2.weight")->value.data<float>()[0], 1.0f);
  EXPECT_EQ(model->find_parameter("layer3.0.downsample.1.weight")->value.data<float>()[0], 1.0f);
  const Parameter* fc = model->find_parameter("fc.weight");
  const double bound = 1.0 / std::sqrt(2048.0);
  for (int64_t i = 0; i < fc->shape.numel(); ++i) ASSERT_LE(std::abs(fc->value.data<float>()[i]), bound);
}

}  // namespace
}  // namespace aslnet
