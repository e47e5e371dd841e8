// The golden model test (after llm.c's test_gpt2): the engine's ResNets against torchvision's.
// The engine initialises a full-width ResNet in fp32, saves it with save_checkpoint and writes a batch
// of images and labels; tests/golden/torch_reference.py loads both into torchvision's own model (in
// float64) and records train-mode logits, every parameter gradient, the losses of three SGD steps and
// the eval-mode logits after them. The engine must reproduce all of these: this pins the topology,
// parameter names and layouts, every layer's forward and backward, the loss with label smoothing,
// torch's SGD update rule and batch norm's running statistics at once, and that a checkpoint
// round-trips through load_checkpoint (the SGD steps, and every f64 run, start from the loaded file).
//
// Why ResNet-50's gradients and steps are checked in f64: a ReLU network's gradient is discontinuous
// where a pre-activation crosses zero. ResNet-50 on this batch has ~47M ReLU inputs, and in fp32 a
// few of them (|x| ~ 1e-7 .. 1e-5) land on the other side of zero than in fp64, which switches single
// gradient entries on or off; in a [4, 256, 4, 4] tensor one such entry is a ~1% error, which then
// spreads through everything upstream and through the following steps. torch's own fp32 model differs
// from its fp64 one by the same 2-4% in gradients (and by tens of percent in the eval logits after
// three steps), so no fp32 implementation can meet a 1e-3 gradient tolerance there. ResNet-50 is
// therefore checked in fp32 forward (logits and loss, which are continuous) and in full in f64, where
// the engine runs the same templated kernels and must agree with torch to ~1e-10. ResNet-18, with 15x
// fewer ReLU inputs and smaller rounding, is checked in full in fp32.
//
// Skips (or fails under ASLNET_REQUIRE_TORCH) when /usr/bin/python3 cannot import torch/torchvision.
// The CPU kernels: the cases run the fast ones (oneDNN, the default) where the build has them, and
// ResNet-18 also the reference ones (im2col + OpenBLAS). ResNet-18 with the small stem is checked in
// fp32 on the reference only: on the fast kernels, whose fp32 sums round differently, one ReLU input of
// layer2.1 lands on the other side of zero than in torch's fp64 (measured: one entry of
// layer2.1.bn1.bias's gradient, 2.06e-3 against 2.24e-3, then everything upstream), the effect
// described above for ResNet-50, which no fp32 implementation avoids by design. The small stem's
// convolutions are compared with the reference shape by shape in tests/kernels/test_conv_onednn.cpp,
// and ResNet-50's fp32 forward runs on the fast kernels with both stems.
//
// ASLNET_GOLDEN_F64=1 runs every case's full check in f64 (to tell an engine bug from fp32 rounding);
// ASLNET_GOLDEN_KEEP=1 keeps the weights, inputs and reference files.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "engine/checkpoint.h"
#include "engine/loss.h"
#include "engine/optimizer.h"
#include "engine/safetensors.h"
#include "engine/train_step.h"
#include "kernels/conv_onednn.h"
#include "kernels/cpu_kernels.h"
#include "models/resnet.h"
#include "tests/test_util.h"

namespace aslnet {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kBatch = 4, kSize = 64, kClasses = 29;
constexpr int kSteps = 3;
constexpr double kLr = 0.01, kMomentum = 0.9, kWeightDecay = 1e-4, kLabelSmoothing = 0.1;

// Relative-error bounds (L2 norm of the difference over the reference's).
struct Tolerances {
  double logits, grads, loss, eval_logits;
};
constexpr Tolerances kF32{1e-4, 1e-3, 1e-4, 1e-4};
// Measured ~1e-13 (first step) and ~1e-10 (after three steps): the bound leaves room for another BLAS.
constexpr Tolerances kF64{1e-9, 1e-9, 1e-8, 1e-8};

const Tolerances& tolerances(DType dtype) { return dtype == DType::F64 ? kF64 : kF32; }

// The interpreter with python3-torch: Debian's, unless ASLNET_TORCH_PYTHON names another.
std::string python() {
  const char* env = std::getenv("ASLNET_TORCH_PYTHON");
  return env != nullptr && *env != '\0' ? env : "/usr/bin/python3";
}

// Whether the interpreter can import torch and torchvision (asked once per process).
bool torch_available() {
  static const bool available =
      std::system((python() + " -c 'import torch, torchvision' >/dev/null 2>&1").c_str()) == 0;
  return available;
}

// A tensor of the reference file (all F64), as an f64 CPU tensor.
Tensor f64_tensor(const safetensors::File& file, const std::string& name) {
  const safetensors::TensorInfo* info = file.find(name);
  ASLNET_CHECK(info != nullptr) << file.path() << ": no tensor " << name;
  ASLNET_CHECK(info->dtype == "F64") << file.path() << ": " << name << " is " << info->dtype << ", expected F64";
  Tensor t = Tensor::empty(Shape{info->numel}, DType::F64);
  ASLNET_CHECK(info->bytes() == t.bytes()) << file.path() << ": " << name << " has the wrong size";
  std::memcpy(t.raw(), info->data, info->bytes());  // the file's bytes need not be aligned
  return t;
}
double f64_scalar(const safetensors::File& file, const std::string& name) {
  return f64_tensor(file, name).data<double>()[0];
}

// The engine's gradient in torch's layout (KRSC -> OIHW for convolutions; the rest is the same).
Tensor to_torch_layout(const Parameter& p) {
  Tensor out = Tensor::empty(Shape{p.shape.numel()}, DType::F64);
  double* dst = out.data<double>();
  dispatch_real(p.grad.dtype(), [&](auto tag) {
    const auto* src = p.grad.data<decltype(tag)>();
    if (p.role == ParamRole::ConvWeight) {
      const int64_t K = p.shape[0], R = p.shape[1], S = p.shape[2], C = p.shape[3];
      for (int64_t k = 0; k < K; ++k)
        for (int64_t r = 0; r < R; ++r)
          for (int64_t s = 0; s < S; ++s)
            for (int64_t c = 0; c < C; ++c) dst[((k * C + c) * R + r) * S + s] = double(src[((k * R + r) * S + s) * C + c]);
    } else {
      for (int64_t i = 0; i < p.shape.numel(); ++i) dst[i] = double(src[i]);
    }
  });
  return out;
}

Tensor convert(const Tensor& f32, DType dtype) {
  if (dtype == DType::F32) return f32;
  Tensor out = Tensor::empty(f32.shape(), DType::F64);
  for (int64_t i = 0; i < f32.numel(); ++i) out.data<double>()[i] = double(f32.data<float>()[i]);
  return out;
}

double relative(double actual, double reference) { return std::abs(actual - reference) / std::abs(reference); }

struct GoldenCase {
  const char* arch;
  const char* stem;
  DType full_check;  // the dtype of the gradient, step and eval checks (see the top of the file)
  // The CPU kernels of the fp32 runs (f64 runs are always the reference: oneDNN has no f64).
  kernels::CpuKernels cpu_kernels = kernels::CpuKernels::Fast;
};

class GoldenTorchvision : public ::testing::TestWithParam<GoldenCase> {
 protected:
  void TearDown() override {
    kernels::set_cpu_kernels(kernels::default_cpu_kernels());
    if (dir_.empty()) return;
    if (test::env_flag("ASLNET_GOLDEN_KEEP")) {
      std::printf("[ golden   ] kept %s\n", dir_.c_str());
      return;
    }
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  fs::path dir_;
};

TEST_P(GoldenTorchvision, MatchesTorchvision) {
  const GoldenCase c = GetParam();
  if (!torch_available())
    ASLNET_SKIP_OR_FAIL("ASLNET_REQUIRE_TORCH", "python3-torch not installed: " + python() +
                                                    " cannot import torch and torchvision");
  if (c.cpu_kernels == kernels::CpuKernels::Fast && !kernels::onednn::available())
    GTEST_SKIP() << "built without oneDNN: no fast CPU kernels";
  kernels::set_cpu_kernels(c.cpu_kernels);
  const auto start = std::chrono::steady_clock::now();
  const DType dtype = test::env_flag("ASLNET_GOLDEN_F64") ? DType::F64 : c.full_check;
  const Tolerances& tol = tolerances(dtype);
  const std::string tag = std::string(c.arch) + "_" + c.stem + "_" + kernels::cpu_kernels_name(c.cpu_kernels);
  dir_ = fs::temp_directory_path() / ("aslnet_golden_" + std::to_string(::getpid()) + "_" + tag);
  fs::create_directories(dir_);
  const std::string weights = (dir_ / "weights.safetensors").string();
  const std::string inputs = (dir_ / "inputs.safetensors").string();
  const std::string reference = (dir_ / "reference.safetensors").string();

  // The model (fp32, so the weights every run starts from are fp32 values), its checkpoint, a batch.
  const ModelInfo config{c.arch, c.stem, 1.0, kClasses, 3};
  auto model = make_resnet(config, DType::F32);
  Rng init_rng(1234);
  init_torchvision(*model, init_rng);
  CheckpointMeta meta;
  meta.model = model->info();
  save_checkpoint(weights, *model, meta);

  Tensor images = Tensor::empty(Shape{kBatch, kSize, kSize, 3}, DType::F32);
  Tensor labels = Tensor::empty(Shape{kBatch}, DType::I32);
  Rng data_rng(99);
  test::fill_normal(images, data_rng);
  for (int64_t i = 0; i < kBatch; ++i) labels.data<int32_t>()[i] = int32_t(data_rng.below(kClasses));
  {
    safetensors::Writer writer;
    writer.add("images", "F32", {kBatch, kSize, kSize, 3}, images.raw(), images.bytes());
    writer.add("labels", "I32", {kBatch}, labels.raw(), labels.bytes());
    writer.write(inputs);
  }

  // The reference.
  std::ostringstream cmd;
  const auto quoted = [](const std::string& s) { return "'" + s + "'"; };  // paths may hold spaces
  cmd << quoted(python()) << " " << quoted(std::string(ASLNET_SOURCE_DIR) + "/tests/golden/torch_reference.py")
      << " --arch " << c.arch << " --stem " << c.stem << " --weights " << quoted(weights) << " --inputs "
      << quoted(inputs) << " --out " << quoted(reference)
      << " --steps " << kSteps << " --lr " << kLr << " --momentum " << kMomentum << " --weight-decay "
      << kWeightDecay << " --label-smoothing " << kLabelSmoothing;
  ASSERT_EQ(std::system(cmd.str().c_str()), 0) << "reference script failed: " << cmd.str();
  const safetensors::File ref = safetensors::File::read(reference);
  const Tensor ref_logits = f64_tensor(ref, "logits");
  const double ref_loss = f64_scalar(ref, "loss");

  // fp32 forward in training mode: logits and loss (continuous, so fp32 meets its bounds everywhere).
  Context ctx;
  CrossEntropyLoss loss(kLabelSmoothing);
  model->setup(ctx, kBatch, kSize, kSize);
  const Tensor& f32_logits = model->forward(ctx, images, /*training=*/true);
  const double f32_logit_err = test::relative_error(f32_logits, ref_logits);
  const double f32_loss = loss.forward_backward(ctx, f32_logits, labels).loss;
  EXPECT_LT(f32_logit_err, kF32.logits) << tag << ": fp32 train-mode logits";
  EXPECT_LT(relative(f32_loss, ref_loss), kF32.loss) << tag << ": fp32 loss " << f32_loss << " vs torch " << ref_loss;

  // Backward of the initial model in the checked dtype: the fp32 model's own, or an f64 model's,
  // loaded from the checkpoint, after its own forward.
  double logit_err = f32_logit_err, first_loss = f32_loss;
  std::unique_ptr<Model> checked;
  if (dtype != DType::F32) {
    checked = make_resnet(config, dtype);
    load_checkpoint(weights, *checked);
    checked->setup(ctx, kBatch, kSize, kSize);
    const Tensor& logits = checked->forward(ctx, convert(images, dtype), /*training=*/true);
    logit_err = test::relative_error(logits, ref_logits);
    first_loss = loss.forward_backward(ctx, logits, labels).loss;
    EXPECT_LT(logit_err, tol.logits) << tag << ": " << dtype_name(dtype) << " train-mode logits";
    EXPECT_LT(relative(first_loss, ref_loss), tol.loss)
        << tag << ": " << dtype_name(dtype) << " loss " << first_loss << " vs torch " << ref_loss;
  }
  Model& net = checked ? *checked : *model;
  net.backward(ctx, loss.dlogits());

  double worst_grad = 0.0;
  std::string worst_name;
  for (const Parameter* p : net.parameters()) {
    const double err = test::relative_error(to_torch_layout(*p), f64_tensor(ref, "grad." + p->name));
    EXPECT_LT(err, tol.grads) << tag << ": gradient of " << p->name;
    if (err > worst_grad || worst_name.empty()) worst_grad = err, worst_name = p->name;
  }

  // Three SGD steps from the initial weights and statistics, loaded back from the checkpoint.
  const Tensor x = convert(images, dtype);
  auto trained = make_resnet(config, dtype);
  load_checkpoint(weights, *trained);
  trained->setup(ctx, kBatch, kSize, kSize);
  OptimizerConfig sgd_config;
  sgd_config.kind = "sgd";
  sgd_config.momentum = kMomentum;
  sgd_config.weight_decay = kWeightDecay;
  sgd_config.decay_norm_and_bias = true;  // torch.optim.SGD decays every parameter
  Optimizer sgd(*trained, sgd_config);
  double worst_loss = 0.0;
  std::ostringstream losses;
  losses.precision(10);
  for (int step = 1; step <= kSteps; ++step) {
    const double got = train_step(ctx, *trained, loss, sgd, x, labels, kLr).loss;
    const double want = f64_scalar(ref, "loss." + std::to_string(step));
    worst_loss = std::max(worst_loss, relative(got, want));
    losses << (step > 1 ? ", " : "") << got << " / " << want;
    EXPECT_LT(relative(got, want), tol.loss) << tag << ": step " << step << " loss " << got << " vs torch " << want;
  }

  // Eval mode after the steps: uses the running statistics (momentum 0.1, unbiased variance).
  const double eval_err = test::relative_error(trained->forward(ctx, x, /*training=*/false),
                                               f64_tensor(ref, "eval_logits"));
  EXPECT_LT(eval_err, tol.eval_logits) << tag << ": eval-mode logits after " << kSteps << " steps";

  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  RecordProperty("f32_logits_rel_err", std::to_string(f32_logit_err));
  RecordProperty("checked_dtype", dtype_name(dtype));
  RecordProperty("logits_rel_err", std::to_string(logit_err));
  RecordProperty("max_grad_rel_err", std::to_string(worst_grad));
  RecordProperty("max_step_loss_rel_err", std::to_string(worst_loss));
  RecordProperty("eval_logits_rel_err", std::to_string(eval_err));
  std::printf("[ golden   ] %s: f32 logits %.2e, loss %.2e | %s: logits %.2e, worst gradient %.2e (%s), "
              "step losses %.2e (engine / torch: %s), eval logits %.2e | %.1f s\n",
              tag.c_str(), f32_logit_err, relative(f32_loss, ref_loss), dtype_name(dtype), logit_err, worst_grad,
              worst_name.c_str(), worst_loss, losses.str().c_str(), eval_err, seconds);
}

INSTANTIATE_TEST_SUITE_P(Golden, GoldenTorchvision,
                         ::testing::Values(GoldenCase{"resnet18", "imagenet", DType::F32, kernels::CpuKernels::Fast},
                                           GoldenCase{"resnet18", "imagenet", DType::F32, kernels::CpuKernels::Reference},
                                           GoldenCase{"resnet18", "small", DType::F32, kernels::CpuKernels::Reference},
                                           // fp32 forward on the fast kernels, the f64 checks on the reference
                                           GoldenCase{"resnet50", "imagenet", DType::F64, kernels::CpuKernels::Fast},
                                           GoldenCase{"resnet50", "small", DType::F64, kernels::CpuKernels::Fast}),
                         [](const ::testing::TestParamInfo<GoldenCase>& info) {
                           return std::string(info.param.arch) + "_" + info.param.stem + "_" +
                                  kernels::cpu_kernels_name(info.param.cpu_kernels);
                         });

}  // namespace
}  // namespace aslnet
