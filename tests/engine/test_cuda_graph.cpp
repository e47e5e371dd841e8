// A training step replayed as a CUDA graph computes exactly what the same step computes eagerly: two
// copies of one small ResNet (deterministic cuDNN algorithms, so that eager runs repeat bit for bit)
// take the same batches, one eagerly and one through GraphedTrainStep; their losses and final weights
// must be identical, and the replays must allocate no device memory. Also: the learning rate changes
// reach the captured update, and batch norm's counters advance per replay. Skips without a GPU.
#include <gtest/gtest.h>

#include <cstring>

#include "engine/core/cuda_check.h"
#include "engine/graphed_step.h"
#include "engine/train_step.h"
#include "models/resnet.h"
#include "tests/test_util.h"

namespace aslnet {
namespace {

struct TrainedRun {
  std::vector<double> losses;
  Tensor weights;
  int64_t batches_tracked = 0;
};

TrainedRun train(bool graph, DType dtype, const std::vector<Tensor>& images, const Tensor& labels) {
  Context cpu(Device::cpu(), 7);
  Context ctx(Device::cuda(0), 7);
  ctx.set_deterministic(true);
  const ModelInfo info{"resnet18", "small", 0.25, 29, 3};
  auto init = make_model(info);
  init_torchvision(*init, cpu.rng());
  auto model = make_model(info, dtype, ctx.device());
  model->copy_weights_from(*init);
  const int64_t batch = labels.numel();
  model->setup(ctx, batch, images[0].shape().h(), images[0].shape().w());
  CrossEntropyLoss loss(0.1);
  Optimizer optimizer(*model, {.kind = "sgd", .momentum = 0.9, .nesterov = true, .weight_decay = 5e-4});
  GraphedTrainStep graphed(ctx, *model, loss, optimizer);
  TrainedRun run;
  size_t free_after_capture = 0, total = 0;
  for (size_t i = 0; i < images.size(); ++i) {
    const double lr = 0.05 / double(i + 1);  // changes every step: the captured update must see it
    if (graph) {
      graphed.run(images[i], labels, lr);
      run.losses.push_back(loss.read_pending(ctx).loss);
      if (i == 1) CUDA_CHECK(cudaMemGetInfo(&free_after_capture, &total));
    } else {
      run.losses.push_back(train_step(ctx, *model, loss, optimizer, images[i], labels, lr).loss);
    }
  }
  if (graph) {
    EXPECT_TRUE(graphed.captured());
    size_t free_now = 0;
    CUDA_CHECK(cudaMemGetInfo(&free_now, &total));
    EXPECT_EQ(free_now, free_after_capture) << "replays allocated device memory";
  }
  ctx.synchronize();
  run.weights = model->parameter_arena().to(Device::cpu());
  run.batches_tracked = model->counters().front()->value;
  return run;
}

TEST(CudaGraph, ReplaysMatchEagerStepsBitForBit) {
  ASLNET_REQUIRE_GPU_OR_SKIP();
  for (DType dtype : {DType::F32, DType::BF16}) {
    SCOPED_TRACE(dtype_name(dtype));
    const uint64_t seed = test::fresh_seed();
    SCOPED_TRACE("seed " + std::to_string(seed));
    Rng rng(seed);
    constexpr int64_t kBatch = 8, kSize = 32;
    std::vector<Tensor> images;
    for (int i = 0; i < 6; ++i) {
      const Tensor x = test::random_f32(Shape{kBatch, kSize, kSize, 3}, rng);
      images.push_back(dtype == DType::BF16 ? test::to_bf16(x).to(Device::cuda(0)) : x.to(Device::cuda(0)));
    }
    Tensor labels = Tensor::empty(Shape{kBatch}, DType::I32);
    for (int64_t i = 0; i < kBatch; ++i) labels.data<int32_t>()[i] = int32_t(i * 7 % 29);
    const Tensor device_labels = labels.to(Device::cuda(0));

    const TrainedRun eager = train(false, dtype, images, device_labels);
    const TrainedRun graphed = train(true, dtype, images, device_labels);
    ASSERT_EQ(eager.losses.size(), graphed.losses.size());
    for (size_t i = 0; i < eager.losses.size(); ++i) EXPECT_EQ(graphed.losses[i], eager.losses[i]) << "step " << i + 1;
    EXPECT_EQ(test::max_abs_diff(graphed.weights, eager.weights), 0.0);
    EXPECT_EQ(graphed.batches_tracked, eager.batches_tracked);
    EXPECT_EQ(graphed.batches_tracked, int64_t(images.size()));
  }
}

}  // namespace
}  // namespace aslnet
