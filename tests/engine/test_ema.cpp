// The exponential moving average of the weights (--ema): the decay's warm-up; the CPU update against
// the formula ema = d_t ema + (1 - d_t) p over SGD and AdamW steps, batch-norm statistics included;
// EmaWeightsScope putting the average into the model exactly and taking it out exactly; and on a GPU
// (skipped without one) the fused kernels against the CPU in fp32 and bf16 mixed precision, the bf16
// copies around a scope, and a captured CUDA graph replaying the update with each step's decay.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "data/toy_task.h"
#include "engine/checkpoint.h"
#include "engine/ema_weights.h"
#include "engine/graphed_step.h"
#include "engine/train_step.h"
#include "models/resnet.h"
#include "tests/test_util.h"

namespace aslnet {
namespace {

const ModelInfo kTiny{"resnet18", "small", 0.125, 5, 3};

// A tiny ResNet with torchvision's initialisation from `seed`, of compute type `dtype` on `device`.
std::unique_ptr<Model> tiny_model(uint64_t seed, DType dtype = DType::F32, Device device = Device::cpu()) {
  Rng rng(seed);
  auto init = make_model(kTiny, dtype == DType::BF16 ? DType::F32 : dtype);
  init_torchvision(*init, rng);
  if (device.is_cpu()) return init;
  auto model = make_model(kTiny, dtype, device);
  model->copy_weights_from(*init);
  return model;
}

// What one step's forward and backward leave behind, drawn at random on the host: a gradient for every
// parameter and new batch-norm statistics (the alignment padding keeps its zeros, as in training).
struct StepInputs {
  std::vector<Tensor> grads, state;  // CPU f64, in parameters() and state() order
};

StepInputs random_step_inputs(const Model& model, Rng& rng) {
  StepInputs in;
  for (const Parameter* p : model.parameters()) {
    in.grads.push_back(Tensor::empty(p->shape, DType::F64));
    test::fill_normal(in.grads.back(), rng);
  }
  for (const StateTensor* s : model.state()) {
    in.state.push_back(Tensor::empty(s->shape, DType::F64));
    test::fill_normal(in.state.back(), rng);
  }
  return in;
}

// `t` (CPU f64) converted to `dtype` (f32 or f64) and copied into `dst` on its device.
void write_converted(Tensor dst, const Tensor& t) {
  Tensor host = Tensor::empty(t.shape(), dst.dtype());
  for (int64_t i = 0; i < t.numel(); ++i) {
    const double v = t.data<double>()[i];
    if (dst.dtype() == DType::F64) {
      host.data<double>()[i] = v;
    } else {
      host.data<float>()[i] = float(v);
    }
  }
  dst.copy_from(host);
}

void apply(Model& model, const StepInputs& in) {
  for (size_t i = 0; i < in.grads.size(); ++i) write_converted(model.parameters()[i]->grad, in.grads[i]);
  for (size_t i = 0; i < in.state.size(); ++i) write_converted(model.state()[i]->value, in.state[i]);
}

std::vector<double> as_doubles(const Tensor& t) {
  const Tensor host = t.to(Device::cpu());  // the arenas are f32 or f64 (fp32 masters in mixed precision)
  std::vector<double> out(size_t(host.numel()));
  for (int64_t i = 0; i < host.numel(); ++i)
    out[size_t(i)] = host.dtype() == DType::F64 ? host.data<double>()[i] : double(host.data<float>()[i]);
  return out;
}

TEST(Ema, DecayWarmsUpToItsValue) {
  EXPECT_DOUBLE_EQ(Optimizer::ema_decay_at(0.9999, 0), 0.1);  // the first update keeps 10% of the start
  EXPECT_DOUBLE_EQ(Optimizer::ema_decay_at(0.9999, 1), 2.0 / 11.0);
  EXPECT_DOUBLE_EQ(Optimizer::ema_decay_at(0.9999, 8), 0.5);
  EXPECT_DOUBLE_EQ(Optimizer::ema_decay_at(0.9999, 1000000), 0.9999);  // warm-up long over
  EXPECT_DOUBLE_EQ(Optimizer::ema_decay_at(0.3, 3), 0.3);              // (4 / 13) > 0.3
  EXPECT_DOUBLE_EQ(Optimizer::ema_decay_at(0.3, 2), 0.25);
}

TEST(Ema, EnableChecksTheDecayAndStartsFromTheWeights) {
  Context ctx;
  auto model = tiny_model(1);
  Optimizer opt(*model, {.kind = "sgd"});
  EXPECT_FALSE(opt.has_ema());
  for (double bad : {0.0, 1.0, -0.5, 1.5, std::numeric_limits<double>::quiet_NaN()}) {
    try {
      opt.enable_ema(ctx, bad);
      ADD_FAILURE() << "decay " << bad << " accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("--ema"), std::string::npos) << e.what();
    }
  }
  EXPECT_FALSE(opt.has_ema());
  opt.enable_ema(ctx, 0.999);
  ASSERT_TRUE(opt.has_ema());
  EXPECT_EQ(opt.ema_decay(), 0.999);
  EXPECT_TRUE(test::same_bytes(opt.ema_parameters(), model->parameter_arena()));
  EXPECT_TRUE(test::same_bytes(opt.ema_state(), model->state_arena()));
}

// Several steps with random gradients and statistics; the average against the formula, in double.
void check_cpu_ema_against_formula(const OptimizerConfig& config, DType dtype, double tolerance) {
  SCOPED_TRACE(config.kind + " " + dtype_name(dtype));
  Context ctx;
  auto model = tiny_model(2, dtype);
  Optimizer opt(*model, config);
  constexpr double kDecay = 0.3;  // reached at the fourth update: the warm-up and the cap both run
  opt.enable_ema(ctx, kDecay);
  std::vector<double> ema_params = as_doubles(model->parameter_arena()), ema_state = as_doubles(model->state_arena());
  Rng rng(3);
  for (int t = 0; t < 6; ++t) {
    apply(*model, random_step_inputs(*model, rng));
    opt.step(ctx, config.kind == "sgd" ? 0.1 : 0.01);
    const double d = std::min(kDecay, (1.0 + t) / (10.0 + t));
    const std::vector<double> p = as_doubles(model->parameter_arena()), s = as_doubles(model->state_arena());
    for (size_t i = 0; i < p.size(); ++i) ema_params[i] = d * ema_params[i] + (1.0 - d) * p[i];
    for (size_t i = 0; i < s.size(); ++i) ema_state[i] = d * ema_state[i] + (1.0 - d) * s[i];
    const std::vector<double> actual_params = as_doubles(opt.ema_parameters()),
                              actual_state = as_doubles(opt.ema_state());
    double worst = 0.0;
    for (size_t i = 0; i < p.size(); ++i) worst = std::max(worst, std::abs(actual_params[i] - ema_params[i]));
    EXPECT_LT(worst, tolerance) << "parameters' average after step " << t + 1;
    worst = 0.0;
    for (size_t i = 0; i < s.size(); ++i) worst = std::max(worst, std::abs(actual_state[i] - ema_state[i]));
    EXPECT_LT(worst, tolerance) << "statistics' average after step " << t + 1;
  }
  // The average moved away from where it started, and is not simply the weights.
  EXPECT_FALSE(test::same_bytes(opt.ema_parameters(), model->parameter_arena()));
}

TEST(Ema, CpuUpdateFollowsTheFormulaForSgdAndAdamW) {
  const OptimizerConfig sgd{.kind = "sgd", .momentum = 0.9, .nesterov = true, .weight_decay = 0.01};
  const OptimizerConfig adamw{.kind = "adamw", .weight_decay = 0.05};
  check_cpu_ema_against_formula(sgd, DType::F64, 1e-13);
  check_cpu_ema_against_formula(adamw, DType::F64, 1e-13);
  check_cpu_ema_against_formula(sgd, DType::F32, 1e-5);
  check_cpu_ema_against_formula(adamw, DType::F32, 1e-5);
}

TEST(Ema, OffLeavesTheUpdateAsItWas) {
  Context ctx;
  auto a = tiny_model(4), b = tiny_model(4);
  Optimizer with(*a, {.kind = "sgd", .momentum = 0.9}), without(*b, {.kind = "sgd", .momentum = 0.9});
  with.enable_ema(ctx, 0.9);
  Rng rng(5);
  for (int t = 0; t < 3; ++t) {
    const StepInputs in = random_step_inputs(*a, rng);
    apply(*a, in);
    apply(*b, in);
    with.step(ctx, 0.1);
    without.step(ctx, 0.1);
  }
  EXPECT_TRUE(test::same_bytes(a->parameter_arena(), b->parameter_arena()));
}

// A model trained a few steps on the toy task with an average well away from its weights.
struct Trained {
  std::unique_ptr<Model> model;
  std::unique_ptr<Optimizer> optimizer;
};

Trained trained_with_ema(Context& ctx, DType dtype, int steps) {
  Trained t{tiny_model(6, dtype, ctx.device()), nullptr};
  t.optimizer = std::make_unique<Optimizer>(*t.model, OptimizerConfig{.kind = "sgd", .momentum = 0.9});
  t.optimizer->enable_ema(ctx, 0.5);
  const int64_t batch = 4, size = 16;
  const ToyTask task = make_toy_task(batch * steps, kTiny.num_classes, size, 11);
  t.model->setup(ctx, batch, size, size);
  CrossEntropyLoss loss;
  for (int s = 0; s < steps; ++s) {
    const ToyTask b = toy_batch(task, s * batch, batch);
    Tensor images = b.images.to(ctx.device());
    if (dtype == DType::BF16) images = test::to_bf16(b.images).to(ctx.device());
    train_step(ctx, *t.model, loss, *t.optimizer, images, b.labels.to(ctx.device()), 0.05);
  }
  return t;
}

TEST(Ema, ScopePutsTheAverageInAndTakesItOutExactly) {
  Context ctx;
  Trained t = trained_with_ema(ctx, DType::F32, 4);
  Model& model = *t.model;
  Optimizer& opt = *t.optimizer;
  const Tensor params = model.parameter_arena().clone(), state = model.state_arena().clone();
  const Tensor ema_params = opt.ema_parameters().clone(), ema_state = opt.ema_state().clone();
  ASSERT_FALSE(test::same_bytes(params, ema_params));
  ASSERT_FALSE(test::same_bytes(state, ema_state));

  // A twin holding the average, to compare what the model computes inside the scope.
  auto twin = tiny_model(99);
  Tensor twin_params = twin->parameter_arena(), twin_state = twin->state_arena();
  twin_params.copy_from(ema_params);
  twin_state.copy_from(ema_state);
  twin->parameters_changed();
  twin->setup(ctx, 4, 16, 16);
  const ToyTask batch = make_toy_task(4, kTiny.num_classes, 16, 12);
  const Tensor expected = twin->forward(ctx, batch.images, /*training=*/false).clone();

  for (int round = 0; round < 2; ++round) {  // the scope can be entered again
    {
      EmaWeightsScope scope(ctx, model, opt);
      EXPECT_TRUE(opt.ema_weights_in_model());
      EXPECT_TRUE(test::same_bytes(model.parameter_arena(), ema_params));
      EXPECT_TRUE(test::same_bytes(model.state_arena(), ema_state));
      EXPECT_TRUE(test::same_bytes(model.forward(ctx, batch.images, /*training=*/false), expected));
      EXPECT_THROW(opt.step(ctx, 0.1), Error);
      EXPECT_THROW((EmaWeightsScope{ctx, model, opt}), Error);
      EXPECT_THROW(opt.enable_ema(ctx, 0.9), Error);
      test::TempDir dir;
      ASSERT_FALSE(dir.path.empty());
      EXPECT_THROW(save_checkpoint((dir.path / "train.safetensors").string(), model, {}, &opt), Error);
    }
    EXPECT_FALSE(opt.ema_weights_in_model());
    EXPECT_TRUE(test::same_bytes(model.parameter_arena(), params)) << "round " << round;
    EXPECT_TRUE(test::same_bytes(model.state_arena(), state)) << "round " << round;
    EXPECT_TRUE(test::same_bytes(opt.ema_parameters(), ema_params)) << "round " << round;
    EXPECT_TRUE(test::same_bytes(opt.ema_state(), ema_state)) << "round " << round;
  }

  // Without an average, or with another model's optimizer, there is no scope.
  auto other = tiny_model(7);
  Optimizer plain(*other, {.kind = "sgd"});
  EXPECT_THROW((EmaWeightsScope{ctx, *other, plain}), Error);
  EXPECT_THROW((EmaWeightsScope{ctx, *other, opt}), Error);
}

// ---- GPU ----

// The same random gradients and statistics through a CPU model and a GPU model (fp32 or bf16 mixed
// precision) with the same weights: the averages agree.
void check_gpu_against_cpu(const OptimizerConfig& config, DType gpu_dtype) {
  const uint64_t seed = test::fresh_seed();
  SCOPED_TRACE(config.kind + " " + dtype_name(gpu_dtype) + ", seed " + std::to_string(seed));
  Context cpu;
  Context gpu(Device::cuda(0));
  auto a = tiny_model(8), b = tiny_model(8, gpu_dtype, gpu.device());
  Optimizer oa(*a, config), ob(*b, config);
  oa.enable_ema(cpu, 0.6);
  ob.enable_ema(gpu, 0.6);
  Rng rng(seed);
  for (int t = 0; t < 6; ++t) {
    const StepInputs in = random_step_inputs(*a, rng);
    apply(*a, in);
    apply(*b, in);
    const double lr = (config.kind == "sgd" ? 0.1 : 0.01) / (1.0 + t);
    oa.step(cpu, lr);
    ob.step(gpu, lr);
  }
  gpu.synchronize();
  EXPECT_LT(test::max_relative_error(b->parameter_arena(), a->parameter_arena()), 1e-6);
  EXPECT_LT(test::max_relative_error(ob.ema_parameters(), oa.ema_parameters()), 1e-6);
  EXPECT_LT(test::max_relative_error(ob.ema_state(), oa.ema_state()), 1e-6);
  if (gpu_dtype == DType::BF16) {  // the update wrote the bf16 copies of the weights, not of the average
    EXPECT_TRUE(test::same_bytes(b->compute_arena(), test::to_bf16(b->parameter_arena().to(Device::cpu()))));
  }
}

TEST(EmaCuda, MatchesCpuInFp32AndMixedPrecision) {
  ASLNET_REQUIRE_GPU_OR_SKIP();
  for (DType dtype : {DType::F32, DType::BF16}) {
    check_gpu_against_cpu({.kind = "sgd", .momentum = 0.9, .nesterov = true, .weight_decay = 0.01}, dtype);
    check_gpu_against_cpu({.kind = "adamw", .weight_decay = 0.05}, dtype);
  }
}

TEST(EmaCuda, ScopeRefreshesAndRestoresTheBf16Copies) {
  ASLNET_REQUIRE_GPU_OR_SKIP();
  Context ctx(Device::cuda(0));
  Trained t = trained_with_ema(ctx, DType::BF16, 3);
  Model& model = *t.model;
  const Tensor params = model.parameter_arena().to(Device::cpu());
  const Tensor copies = model.compute_arena().to(Device::cpu());
  ASSERT_TRUE(test::same_bytes(copies, test::to_bf16(params)));
  {
    EmaWeightsScope scope(ctx, model, *t.optimizer);
    EXPECT_TRUE(test::same_bytes(model.parameter_arena(), t.optimizer->ema_parameters()));
    EXPECT_TRUE(
        test::same_bytes(model.compute_arena(), test::to_bf16(t.optimizer->ema_parameters().to(Device::cpu()))));
  }
  EXPECT_TRUE(test::same_bytes(model.parameter_arena(), params));
  EXPECT_TRUE(test::same_bytes(model.compute_arena(), copies));
}

// Eager steps against a captured graph's replays: the warm-up changes the decay every step, so a graph
// that had baked the first step's decay in would end with another average.
Tensor graphed_or_eager_ema(bool graph, DType dtype, const std::vector<Tensor>& images, const Tensor& labels) {
  Context ctx(Device::cuda(0), 7);
  ctx.set_deterministic(true);
  auto model = tiny_model(9, dtype, ctx.device());
  model->setup(ctx, labels.numel(), images[0].shape().h(), images[0].shape().w());
  CrossEntropyLoss loss;
  Optimizer optimizer(*model, {.kind = "sgd", .momentum = 0.9});
  optimizer.enable_ema(ctx, 0.999);
  GraphedTrainStep graphed(ctx, *model, loss, optimizer);
  for (const Tensor& x : images) {
    if (graph) {
      graphed.run(x, labels, 0.05);
    } else {
      train_step(ctx, *model, loss, optimizer, x, labels, 0.05);
    }
  }
  EXPECT_EQ(graphed.captured(), graph);
  ctx.synchronize();
  const Tensor params = optimizer.ema_parameters().to(Device::cpu()), state = optimizer.ema_state().to(Device::cpu());
  Tensor both = Tensor::empty(Shape{params.numel() + state.numel()}, DType::F32);
  std::memcpy(both.raw(), params.raw(), params.bytes());
  std::memcpy(static_cast<char*>(both.raw()) + params.bytes(), state.raw(), state.bytes());
  return both;
}

TEST(EmaCuda, GraphReplaysUseEachStepsDecay) {
  ASLNET_REQUIRE_GPU_OR_SKIP();
  for (DType dtype : {DType::F32, DType::BF16}) {
    SCOPED_TRACE(dtype_name(dtype));
    const uint64_t seed = test::fresh_seed();
    SCOPED_TRACE("seed " + std::to_string(seed));
    Rng rng(seed);
    constexpr int64_t kBatch = 4, kSize = 16;
    std::vector<Tensor> images;
    for (int i = 0; i < 5; ++i) {
      const Tensor x = test::random_f32(Shape{kBatch, kSize, kSize, 3}, rng);
      images.push_back(dtype == DType::BF16 ? test::to_bf16(x).to(Device::cuda(0)) : x.to(Device::cuda(0)));
    }
    Tensor labels = Tensor::empty(Shape{kBatch}, DType::I32);
    for (int64_t i = 0; i < kBatch; ++i) labels.data<int32_t>()[i] = int32_t(i % kTiny.num_classes);
    const Tensor device_labels = labels.to(Device::cuda(0));
    const Tensor eager = graphed_or_eager_ema(false, dtype, images, device_labels);
    const Tensor replayed = graphed_or_eager_ema(true, dtype, images, device_labels);
    EXPECT_TRUE(test::same_bytes(eager, replayed)) << "the replayed average differs from the eager one";
  }
}

}  // namespace
}  // namespace aslnet
