// Soft targets (mixup, cutmix) through the engine: InputStager hands them over with the labels (CPU
// pass-through; on the GPU, copied and left f32 whatever the model's type), CrossEntropyLoss's pending
// calls use them, and a CUDA-graph step captured with targets replays exactly the eager steps. The GPU
// tests skip without a GPU.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "engine/core/error.h"
#include "engine/graphed_step.h"
#include "engine/input_stager.h"
#include "engine/loss.h"
#include "models/resnet.h"
#include "tests/test_util.h"

namespace aslnet {
namespace {

constexpr int kClasses = 29;

// Rows mixing the label with the label of the reversed batch, as data/mix.h does.
Tensor mixed_targets(const Tensor& labels, double lambda) {
  const int64_t rows = labels.numel();
  Tensor t = Tensor::zeros(Shape{rows, kClasses}, DType::F32);
  for (int64_t i = 0; i < rows; ++i) {
    t.data<float>()[i * kClasses + labels.data<int32_t>()[i]] += float(lambda);
    t.data<float>()[i * kClasses + labels.data<int32_t>()[rows - 1 - i]] += float(1.0 - lambda);
  }
  return t;
}

Tensor random_labels(int64_t rows, Rng& rng) {
  Tensor labels = Tensor::empty(Shape{rows}, DType::I32);
  for (int64_t i = 0; i < rows; ++i) labels.data<int32_t>()[i] = int32_t(rng.below(kClasses));
  return labels;
}

const ModelInfo kInfo{"resnet18", "small", 0.25, kClasses, 3};

TEST(SoftTargets, CpuStagerPassesTargetsThrough) {
  Rng rng(test::fresh_seed());
  for (DType dtype : {DType::F32, DType::F64}) {  // f64: the images are converted, the targets stay f32
    Context ctx;
    auto model = make_model(kInfo, dtype);
    model->setup(ctx, 4, 8, 8);
    InputStager stager(ctx, *model);
    Batch host{test::random_f32(Shape{4, 8, 8, 3}, rng), random_labels(4, rng), Tensor(), 4, {}};
    host.targets = mixed_targets(host.labels, 0.7);
    const Batch& staged = stager.stage(host);
    ASSERT_TRUE(staged.targets.defined()) << dtype_name(dtype);
    EXPECT_EQ(staged.targets.dtype(), DType::F32);
    EXPECT_EQ(test::max_abs_diff(staged.targets, host.targets), 0.0);
    host.targets = Tensor();
    EXPECT_FALSE(stager.stage(host).targets.defined()) << dtype_name(dtype);
  }
}

// The pending calls (what the trainer uses) give forward_backward's result with the same targets, on
// the CPU where they are computed at once.
TEST(SoftTargets, CpuPendingLossUsesTargets) {
  Rng rng(test::fresh_seed());
  Context ctx;
  const Tensor logits = test::random_f32(Shape{6, kClasses}, rng, 3.0);
  const Tensor labels = random_labels(6, rng), targets = mixed_targets(labels, 0.35);
  CrossEntropyLoss pending(0.1), direct(0.1);
  pending.forward_backward_pending(ctx, logits, labels, 0.5, targets);
  const LossResult got = pending.read_pending(ctx), want = direct.forward_backward(ctx, logits, labels, 0.5, targets);
  EXPECT_EQ(got.loss, want.loss);
  EXPECT_EQ(got.correct, want.correct);
  EXPECT_EQ(test::max_abs_diff(pending.dlogits(), direct.dlogits()), 0.0);
  EXPECT_NE(direct.forward_backward(ctx, logits, labels, 0.5).loss, want.loss) << "the targets made no difference";
}

TEST(SoftTargetsCuda, StagerCopiesTargetsAndLossMatchesCpu) {
  ASLNET_REQUIRE_GPU_OR_SKIP();
  const uint64_t seed = test::fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  Rng rng(seed);
  Context ctx(Device::cuda(0));
  auto model = make_model(kInfo, DType::BF16, ctx.device());
  model->setup(ctx, 8, 16, 16);
  InputStager stager(ctx, *model);
  Batch host{test::random_f32(Shape{8, 16, 16, 3}, rng), random_labels(8, rng), Tensor(), 8, {}};
  host.targets = mixed_targets(host.labels, 0.6);
  const Batch& staged = stager.stage(host);
  ASSERT_TRUE(staged.targets.defined());
  EXPECT_TRUE(staged.targets.device().is_cuda());
  EXPECT_EQ(staged.targets.dtype(), DType::F32);
  EXPECT_EQ(test::max_abs_diff(staged.targets, host.targets), 0.0);

  // CrossEntropyLoss on the device against the CPU, same logits and targets.
  const Tensor logits = test::random_f32(Shape{8, kClasses}, rng, 3.0);
  CrossEntropyLoss gpu_loss(0.1), cpu_loss(0.1);
  const LossResult got = gpu_loss.forward_backward(ctx, logits.to(ctx.device()), staged.labels, 1.0, staged.targets);
  Context cpu;
  const LossResult want = cpu_loss.forward_backward(cpu, logits, host.labels, 1.0, host.targets);
  EXPECT_NEAR(got.loss, want.loss, 1e-5 * std::max(1.0, want.loss));
  EXPECT_EQ(got.correct, want.correct);
  EXPECT_LT(test::max_relative_error(gpu_loss.dlogits(), cpu_loss.dlogits()), 1e-5);

  // A batch without targets hands none over (the slots keep their buffers for later ones).
  host.targets = Tensor();
  EXPECT_FALSE(stager.stage(host).targets.defined());
  EXPECT_FALSE(stager.stage(host).targets.defined());
}

// Eager steps with soft targets, or the same steps through GraphedTrainStep: the same losses and weights,
// bit for bit (deterministic cuDNN algorithms, as tests/engine/test_cuda_graph.cpp does for labels).
std::pair<std::vector<double>, Tensor> train(bool graph, const std::vector<Tensor>& images, const Tensor& labels,
                                             const std::vector<Tensor>& targets) {
  Context cpu(Device::cpu(), 7);
  Context ctx(Device::cuda(0), 7);
  ctx.set_deterministic(true);
  auto init = make_model(kInfo);
  init_torchvision(*init, cpu.rng());
  auto model = make_model(kInfo, DType::F32, ctx.device());
  model->copy_weights_from(*init);
  model->setup(ctx, labels.numel(), images[0].shape().h(), images[0].shape().w());
  CrossEntropyLoss loss(0.1);
  Optimizer optimizer(*model, {.kind = "sgd", .momentum = 0.9, .nesterov = true, .weight_decay = 5e-4});
  GraphedTrainStep graphed(ctx, *model, loss, optimizer);
  std::vector<double> losses;
  for (size_t i = 0; i < images.size(); ++i) {
    if (graph) {
      graphed.run(images[i], labels, 0.05, targets[i]);
      losses.push_back(loss.read_pending(ctx).loss);
    } else {
      const Tensor& logits = model->forward(ctx, images[i], /*training=*/true);
      losses.push_back(loss.forward_backward(ctx, logits, labels, 1.0, targets[i]).loss);
      model->backward(ctx, loss.dlogits());
      optimizer.step(ctx, 0.05);
    }
  }
  if (graph) {
    EXPECT_TRUE(graphed.captured());
    // A captured step cannot switch losses: a batch without targets is refused by name.
    try {
      graphed.run(images[0], labels, 0.05);
      ADD_FAILURE() << "a batch without targets replayed a step captured with them";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("soft targets"), std::string::npos) << e.what();
    }
  }
  ctx.synchronize();
  return {losses, model->parameter_arena().to(Device::cpu())};
}

TEST(SoftTargetsCuda, GraphedStepWithTargetsMatchesEagerSteps) {
  ASLNET_REQUIRE_GPU_OR_SKIP();
  const uint64_t seed = test::fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  Rng rng(seed);
  constexpr int64_t kBatch = 8;
  const Tensor labels = random_labels(kBatch, rng);
  std::vector<Tensor> images, targets;
  for (int i = 0; i < 5; ++i) {
    images.push_back(test::random_f32(Shape{kBatch, 32, 32, 3}, rng).to(Device::cuda(0)));
    targets.push_back(mixed_targets(labels, rng.uniform()).to(Device::cuda(0)));
  }
  const Tensor device_labels = labels.to(Device::cuda(0));
  const auto eager = train(false, images, device_labels, targets);
  const auto replayed = train(true, images, device_labels, targets);
  EXPECT_EQ(replayed.first, eager.first) << "losses differ";
  EXPECT_EQ(test::max_abs_diff(replayed.second, eager.second), 0.0) << "weights differ";
}

}  // namespace
}  // namespace aslnet
