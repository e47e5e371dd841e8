// Training end to end on the CPU: a small ResNet on a fixed tiny task lowers its loss at least
// fivefold in a few hundred steps, and the same seed gives bit-identical weights. Also the
// optimizers' update rules against hand-computed torch semantics, and the learning-rate schedules.
// And resuming with a moving average of the weights (--ema): a run stopped and resumed from its
// checkpoint ends with the same weights and the same average as the uninterrupted run, bit for bit.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "data/toy_task.h"
#include "engine/checkpoint.h"
#include "engine/schedule.h"
#include "engine/train_step.h"
#include "models/resnet.h"
#include "tests/test_util.h"

namespace aslnet {
namespace {

struct RunResult {
  double first_loss, last_loss;
  Tensor weights;
};

RunResult train_tiny(uint64_t seed, int64_t steps) {
  Context ctx(Device::cpu(), seed);
  const int64_t batch = 16, samples = 128, size = 16, classes = 8;
  const ToyTask task = make_toy_task(samples, classes, size, seed, DType::F32, 0.8);
  auto model = make_resnet({"resnet18", "small", 0.125, classes, 3});
  init_torchvision(*model, ctx.rng());
  model->setup(ctx, batch, size, size);
  CrossEntropyLoss loss(0.0);
  Optimizer optimizer(*model, {.kind = "sgd", .momentum = 0.9, .nesterov = true, .weight_decay = 5e-4});
  const ScheduleConfig schedule{.kind = "cosine", .base_lr = 0.05, .total_steps = steps, .warmup_steps = 10};
  const int64_t per_epoch = samples / batch;
  double first = 0, last = 0;
  for (int64_t step = 0; step < steps; ++step) {
    const ToyTask b = toy_batch(task, (step % per_epoch) * batch, batch);
    const double l = train_step(ctx, *model, loss, optimizer, b.images, b.labels, learning_rate(schedule, step)).loss;
    if (step < per_epoch) first += l / double(per_epoch);          // the first epoch's mean loss
    if (step >= steps - per_epoch) last += l / double(per_epoch);  // the last epoch's
  }
  return {first, last, model->parameter_arena().clone()};
}

TEST(Training, SmallResNetLowersItsLossFivefoldAndIsDeterministic) {
  const RunResult a = train_tiny(42, 240);
  RecordProperty("first_epoch_loss", std::to_string(a.first_loss));
  RecordProperty("last_epoch_loss", std::to_string(a.last_loss));
  EXPECT_GT(a.first_loss, 5.0 * a.last_loss) << "first epoch " << a.first_loss << ", last " << a.last_loss;
  const RunResult b = train_tiny(42, 240);
  EXPECT_EQ(std::memcmp(a.weights.raw(), b.weights.raw(), a.weights.bytes()), 0) << "same seed, different weights";
  const RunResult c = train_tiny(43, 8);
  EXPECT_NE(std::memcmp(a.weights.raw(), c.weights.raw(), a.weights.bytes()), 0);
}

// A one-parameter-per-role model is overkill: use a real model and check a few elements by hand.
TEST(Optimizer, SgdMatchesTorchRules) {
  for (bool nesterov : {false, true}) {
    auto model = make_resnet({"resnet18", "small", 0.0625, 3, 3}, DType::F64);
    Rng rng(1);
    init_torchvision(*model, rng);
    Tensor grads = model->gradient_arena();
    for (int64_t i = 0; i < grads.numel(); ++i) grads.data<double>()[i] = rng.normal();
    const Tensor p0 = model->parameter_arena().clone();
    Optimizer opt(
        *model,
        {.kind = "sgd", .momentum = 0.9, .nesterov = nesterov, .weight_decay = 0.01, .decay_norm_and_bias = false});
    Context ctx;
    opt.step(ctx, 0.1);  // step 1: buf = g + wd p
    const Parameter* conv = model->find_parameter("conv1.weight");
    const Parameter* bias = model->find_parameter("fc.bias");
    const int64_t ci = conv->value.data<double>() - model->parameter_arena().data<double>();
    const int64_t bi = bias->value.data<double>() - model->parameter_arena().data<double>();
    const double g = grads.data<double>()[ci], p = p0.data<double>()[ci];
    const double buf = g + 0.01 * p;
    const double update = nesterov ? (g + 0.01 * p) + 0.9 * buf : buf;
    EXPECT_NEAR(conv->value.data<double>()[0], p - 0.1 * update, 1e-15);
    const double gb = grads.data<double>()[bi], pb = p0.data<double>()[bi];  // exempt from decay
    EXPECT_NEAR(bias->value.data<double>()[0], pb - 0.1 * (nesterov ? gb + 0.9 * gb : gb), 1e-15);
  }
}

TEST(Optimizer, AdamWMatchesTorchRules) {
  auto model = make_resnet({"resnet18", "small", 0.0625, 3, 3}, DType::F64);
  Rng rng(2);
  init_torchvision(*model, rng);
  Context ctx;
  Optimizer opt(*model, {.kind = "adamw", .weight_decay = 0.05, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8});
  Parameter* w = model->find_parameter("fc.weight");
  double p = w->value.data<double>()[0], m = 0, v = 0;
  for (int t = 1; t <= 3; ++t) {
    const double g = 0.3 * t - 0.5;
    w->grad.data<double>()[0] = g;
    opt.step(ctx, 0.01);
    p *= 1 - 0.01 * 0.05;
    m = 0.9 * m + 0.1 * g;
    v = 0.999 * v + 0.001 * g * g;
    const double mhat = m / (1 - std::pow(0.9, t)), vhat = v / (1 - std::pow(0.999, t));
    p -= 0.01 * mhat / (std::sqrt(vhat) + 1e-8);
    EXPECT_NEAR(w->value.data<double>()[0], p, 1e-12) << "step " << t;
  }
  EXPECT_THROW(Optimizer(*model, {.kind = "lion"}), Error);
}

// Steps [from, to) of a small run on the toy task, with the moving average kept by `optimizer`.
void train_steps(Context& ctx, Model& model, Optimizer& optimizer, const ToyTask& task, int64_t from, int64_t to,
                 int64_t total) {
  const int64_t batch = 8, per_epoch = task.labels.numel() / batch;
  const ScheduleConfig schedule{.kind = "cosine", .base_lr = 0.05, .total_steps = total, .warmup_steps = 3};
  CrossEntropyLoss loss(0.0);
  for (int64_t step = from; step < to; ++step) {
    const ToyTask b = toy_batch(task, (step % per_epoch) * batch, batch);
    train_step(ctx, model, loss, optimizer, b.images, b.labels, learning_rate(schedule, step));
  }
}

struct EmaRun {
  Tensor weights, ema_params, ema_state;
};

// A fresh model (initialised from `seed`) with an SGD optimizer keeping an average of decay 0.9: the
// decay still warms up when the runs below end, so a resumed run that lost the step count would differ.
struct EmaTrainer {
  std::unique_ptr<Model> model;
  std::unique_ptr<Optimizer> optimizer;
  EmaTrainer(Context& ctx, uint64_t seed) {
    model = make_resnet({"resnet18", "small", 0.125, 8, 3});
    Rng rng(seed);
    init_torchvision(*model, rng);
    model->setup(ctx, 8, 16, 16);
    optimizer = std::make_unique<Optimizer>(
        *model, OptimizerConfig{.kind = "sgd", .momentum = 0.9, .nesterov = true, .weight_decay = 5e-4});
    optimizer->enable_ema(ctx, 0.9);
  }
  EmaRun result() const {
    return {model->parameter_arena().clone(), optimizer->ema_parameters().clone(), optimizer->ema_state().clone()};
  }
};

TEST(Training, ResumedRunEndsWithTheSameEmaAsAnUninterruptedOne) {
  constexpr int64_t kSteps = 10, kStop = 4;
  const ToyTask task = make_toy_task(48, 8, 16, 5, DType::F32, 0.8);
  Context ctx(Device::cpu(), 1);
  EmaTrainer whole(ctx, 3);
  train_steps(ctx, *whole.model, *whole.optimizer, task, 0, kSteps, kSteps);
  const EmaRun uninterrupted = whole.result();

  test::TempDir dir;
  ASSERT_FALSE(dir.path.empty());
  const std::string file = (dir.path / "stopped.safetensors").string();
  {
    Context first(Device::cpu(), 1);
    EmaTrainer stopped(first, 3);
    train_steps(first, *stopped.model, *stopped.optimizer, task, 0, kStop, kSteps);
    save_checkpoint(file, *stopped.model, {}, stopped.optimizer.get());
  }
  Context second(Device::cpu(), 1);
  EmaTrainer resumed(second, 4);  // another initialisation: everything must come from the file
  EXPECT_TRUE(load_checkpoint(file, *resumed.model, resumed.optimizer.get()).load_notes.empty());
  EXPECT_EQ(resumed.optimizer->step_count(), kStop);
  train_steps(second, *resumed.model, *resumed.optimizer, task, kStop, kSteps, kSteps);
  const EmaRun continued = resumed.result();

  EXPECT_TRUE(test::same_bytes(uninterrupted.weights, continued.weights)) << "weights differ after resuming";
  EXPECT_TRUE(test::same_bytes(uninterrupted.ema_params, continued.ema_params)) << "the average of the weights differs";
  EXPECT_TRUE(test::same_bytes(uninterrupted.ema_state, continued.ema_state))
      << "the average of the statistics differs";
  EXPECT_FALSE(test::same_bytes(uninterrupted.weights, uninterrupted.ema_params))
      << "the average never left the weights";
}

TEST(Schedule, WarmupCosineStepAndOneCycle) {
  ScheduleConfig cosine{.kind = "cosine", .base_lr = 1.0, .total_steps = 110, .warmup_steps = 10, .min_lr = 0.0};
  EXPECT_NEAR(learning_rate(cosine, 0), 0.1, 1e-12);
  EXPECT_NEAR(learning_rate(cosine, 9), 1.0, 1e-12);
  EXPECT_NEAR(learning_rate(cosine, 10), 1.0, 1e-12);
  EXPECT_NEAR(learning_rate(cosine, 109), 0.0, 1e-12);
  EXPECT_LT(learning_rate(cosine, 60), learning_rate(cosine, 50));
  ScheduleConfig step{.kind = "step", .base_lr = 1.0, .total_steps = 100, .step_size = 30, .gamma = 0.1};
  EXPECT_NEAR(learning_rate(step, 29), 1.0, 1e-12);
  EXPECT_NEAR(learning_rate(step, 30), 0.1, 1e-12);
  EXPECT_NEAR(learning_rate(step, 95), 0.001, 1e-12);
  // torch.optim.lr_scheduler.OneCycleLR(max_lr=1, total_steps=100): 0.04 at the start, 1 at step 29,
  // 4e-6 at the end.
  ScheduleConfig one{.kind = "onecycle", .base_lr = 1.0, .total_steps = 100};
  EXPECT_NEAR(learning_rate(one, 0), 0.04, 1e-12);
  EXPECT_NEAR(learning_rate(one, 29), 1.0, 1e-12);
  EXPECT_NEAR(learning_rate(one, 99), 4e-6, 1e-12);
  EXPECT_THROW(learning_rate({.kind = "linear"}, 0), Error);
}

}  // namespace
}  // namespace aslnet
