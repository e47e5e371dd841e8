// Trainer::fit reads the loss only every --log-every steps (engine/trainer.h): the readings must
// change nothing the run computes, and a loss that stops being finite must still stop the run with
// the weights of the last good step, found within log_every steps.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "data/toy_task.h"
#include "engine/trainer.h"
#include "models/resnet.h"
#include "tests/test_util.h"

namespace aslnet {
namespace {

constexpr int64_t kClasses = 4, kSize = 16, kBatch = 8, kBatches = 12;

// Batches of a toy task, in order; the batch numbered `poisoned` (from 0, if any) carries a NaN pixel.
class ToySource : public BatchSource {
 public:
  explicit ToySource(int64_t poisoned = -1)
      : task_(make_toy_task(kBatches * kBatch, kClasses, kSize, 3)), poisoned_(poisoned) {}
  int64_t batches_per_epoch() const override { return kBatches; }
  void start_epoch(int64_t) override { next_ = 0; }
  bool next(Batch& batch) override {
    if (next_ >= kBatches) return false;
    const ToyTask part = toy_batch(task_, next_ * kBatch, kBatch);
    batch.images = part.images.clone();
    batch.labels = part.labels;
    batch.valid = kBatch;
    if (next_ == poisoned_) batch.images.data<float>()[5] = std::numeric_limits<float>::quiet_NaN();
    ++next_;
    return true;
  }

 private:
  ToyTask task_;
  int64_t poisoned_, next_ = 0;
};

struct Outcome {
  Tensor weights;
  std::vector<StepReport> steps;
  std::vector<EpochReport> epochs;
  std::string error;  // NonFiniteLoss's message, if fit threw it
  bool finished = false;
};

// end_after: the epochs after which the hooks' end_after_epoch says yes (0: never).
Outcome fit(int64_t log_every, int64_t poisoned = -1, int64_t stop_after = 0, int64_t epochs = 2,
            int64_t resumed_at = 0, int64_t end_after = 0) {
  Context ctx(Device::cpu(), 0);
  Rng rng(11);
  auto model = make_initialised_model({"resnet18", "small", 0.125, kClasses, 3}, rng, DType::F32, Device::cpu());
  model->setup(ctx, kBatch, kSize, kSize);
  Optimizer optimizer(*model, {.kind = "sgd", .momentum = 0.9, .weight_decay = 1e-4});
  optimizer.set_step_count(resumed_at);  // as a resumed checkpoint leaves it
  TrainerOptions options;
  options.epochs = epochs;
  options.log_every = log_every;
  options.stop_after_steps = stop_after;
  options.schedule = {.kind = "constant", .base_lr = 0.05};
  Trainer trainer(ctx, *model, optimizer, options);
  ToySource source(poisoned);
  Outcome out;
  TrainerHooks hooks;
  hooks.on_step = [&](const StepReport& r) { out.steps.push_back(r); };
  hooks.on_epoch = [&](const EpochReport& r) { out.epochs.push_back(r); };
  if (end_after > 0) hooks.end_after_epoch = [&] { return int64_t(out.epochs.size()) >= end_after; };
  try {
    out.finished = trainer.fit(source, nullptr, hooks);
  } catch (const NonFiniteLoss& e) {
    out.error = e.what();
  }
  out.weights = model->parameter_arena().clone();
  return out;
}

TEST(Trainer, ReadingTheLossLessOftenChangesNothingItComputes) {
  const Outcome every = fit(1), fifth = fit(5);
  EXPECT_TRUE(test::same_bytes(every.weights, fifth.weights));
  ASSERT_EQ(every.epochs.size(), 2u);
  ASSERT_EQ(fifth.epochs.size(), 2u);
  for (size_t e = 0; e < 2; ++e) {
    EXPECT_NEAR(every.epochs[e].train_loss, fifth.epochs[e].train_loss, 1e-9);
    EXPECT_EQ(every.epochs[e].train_accuracy, fifth.epochs[e].train_accuracy);
  }
  // Readings every fifth step and at each epoch's end (12 steps an epoch); every step is reported.
  ASSERT_EQ(fifth.steps.size(), 24u);
  std::vector<int64_t> measured;
  for (const StepReport& r : fifth.steps)
    if (r.measured) measured.push_back(r.step);
  EXPECT_EQ(measured, (std::vector<int64_t>{5, 10, 12, 15, 20, 24}));
  for (const StepReport& r : fifth.steps) EXPECT_EQ(r.images, kBatch);
  // A reading's loss is the mean over its steps: the epoch's loss is their weighted mean.
  double sum = 0.0;
  int64_t from = 0;
  for (const StepReport& r : fifth.steps) {
    if (!r.measured || r.epoch != 0) continue;
    sum += r.loss * double(r.step - from);
    from = r.step;
  }
  EXPECT_NEAR(sum / 12.0, fifth.epochs[0].train_loss, 1e-9);
}

TEST(Trainer, ANonFiniteLossStopsTheRunWithinLogEveryStepsKeepingTheLastGoodWeights) {
  constexpr int64_t kBadStep = 4, kLogEvery = 3;  // batch 3 (from 0) is step 4's
  const Outcome bad = fit(kLogEvery, kBadStep - 1);
  ASSERT_FALSE(bad.error.empty()) << "fit did not throw NonFiniteLoss";
  EXPECT_NE(bad.error.find("at step 4"), std::string::npos) << bad.error;
  EXPECT_NE(bad.error.find("--lr"), std::string::npos) << bad.error;
  // Found at the reading after step 6: steps 1-5 were reported, step 6's reading threw.
  ASSERT_EQ(bad.steps.size(), 5u);
  EXPECT_LE(int64_t(bad.steps.size()), kBadStep - 1 + kLogEvery);
  EXPECT_TRUE(bad.epochs.empty());
  // The weights are exactly those of a run stopped after step 3.
  const Outcome good = fit(kLogEvery, -1, kBadStep - 1);
  EXPECT_FALSE(good.finished);
  ASSERT_EQ(good.steps.size(), size_t(kBadStep - 1));
  EXPECT_TRUE(test::same_bytes(bad.weights, good.weights));
  for (int64_t i = 0; i < bad.weights.numel(); ++i) ASSERT_TRUE(std::isfinite(bad.weights.data<float>()[i])) << i;
}

// A loss that breaks in the first steps after a resume points at the checkpoint or the options it was
// resumed with, not only at --lr; later, the usual hint.
TEST(Trainer, ANonFiniteLossRightAfterAResumeSaysSo) {
  const Outcome at_once = fit(3, /*poisoned=*/0, 0, 2, /*resumed_at=*/12);  // epoch 2's first step: 13
  EXPECT_NE(at_once.error.find("at step 13"), std::string::npos) << at_once.error;
  EXPECT_NE(at_once.error.find("after resuming from step 12"), std::string::npos) << at_once.error;
  const Outcome later = fit(3, /*poisoned=*/4, 0, 2, /*resumed_at=*/12);
  EXPECT_NE(later.error.find("at step 17"), std::string::npos) << later.error;
  EXPECT_EQ(later.error.find("resuming"), std::string::npos) << later.error;
  EXPECT_NE(later.error.find("--warmup-epochs"), std::string::npos) << later.error;
}

// Early stopping (--early-stop) ends the run after an epoch as a finished one, its weights those of
// that epoch's last step.
TEST(Trainer, EndAfterEpochEndsTheRunAsAFinishedOne) {
  const Outcome ended = fit(5, -1, 0, /*epochs=*/3, 0, /*end_after=*/1);
  EXPECT_TRUE(ended.finished);
  EXPECT_EQ(ended.epochs.size(), 1u);
  ASSERT_EQ(ended.steps.size(), 12u);
  const Outcome one_epoch = fit(5, -1, 0, /*epochs=*/1);
  EXPECT_TRUE(test::same_bytes(ended.weights, one_epoch.weights));
}

TEST(Trainer, StopAfterStopsAtExactlyThatStepBetweenReadings) {
  const Outcome stopped = fit(5, -1, 7);
  EXPECT_FALSE(stopped.finished);
  ASSERT_EQ(stopped.steps.size(), 7u);
  EXPECT_EQ(stopped.steps.back().step, 7);
}

// The CPU twin of the GPU kernels' guard (tests/kernels/test_optimizer_cuda.cpp): an update from a
// non-finite gradient is refused with every one after it, moments and average included, and the
// first refused update is named.
TEST(Optimizer, RefusesNonFiniteGradientsAndEveryUpdateAfterThem) {
  for (const std::string kind : {"sgd", "adamw"}) {
    SCOPED_TRACE(kind);
    Context ctx(Device::cpu(), 0);
    Rng rng(5);
    auto model = make_initialised_model({"resnet18", "small", 0.125, kClasses, 3}, rng, DType::F32, Device::cpu());
    Optimizer optimizer(*model, {.kind = kind, .momentum = 0.9});
    optimizer.enable_ema(ctx, 0.9);
    Tensor grad = model->gradient_arena();  // shares the arena
    test::fill_normal(grad, rng);
    optimizer.step(ctx, 0.1);
    EXPECT_EQ(optimizer.first_non_finite_step(ctx), 0);
    const Tensor params = model->parameter_arena().clone(), ema = optimizer.ema_parameters().clone();
    std::vector<Tensor> moments;
    for (const auto& [name, t] : optimizer.state_tensors()) moments.push_back(t.clone());
    grad.data<float>()[grad.numel() / 2] = std::numeric_limits<float>::infinity();
    optimizer.step(ctx, 0.1);
    test::fill_normal(grad, rng);  // finite again: still refused
    optimizer.step(ctx, 0.1);
    EXPECT_EQ(optimizer.first_non_finite_step(ctx), 2);
    EXPECT_TRUE(test::same_bytes(model->parameter_arena(), params));
    EXPECT_TRUE(test::same_bytes(optimizer.ema_parameters(), ema));
    const auto state = optimizer.state_tensors();
    ASSERT_EQ(state.size(), moments.size());
    for (size_t i = 0; i < state.size(); ++i)
      EXPECT_TRUE(test::same_bytes(state[i].second, moments[i])) << state[i].first;
  }
}

}  // namespace
}  // namespace aslnet
