// Benchmark: one CPU training step (forward, loss, backward, SGD update) of a ResNet, and the same
// step in torchvision (bench/peers/torch_cpu_train_step.py) run from this program with the same
// architecture, batch, image size and thread count, so both numbers come from one invocation on one
// machine. Prints images/s for each, their ratio, and the achieved GFLOP/s against the machine's
// measured peak (a large OpenBLAS sgemm timed here). Not a test: nothing is asserted.
// --cpu-kernels both (the default where oneDNN is built in) times the step on the fast and the
// reference CPU kernels one after the other, then torchvision, each against torchvision.
#include <fmt/core.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "bench/peer_value.h"
#include "data/toy_task.h"
#include "engine/core/cpu_blas.h"
#include "engine/layers/conv2d.h"
#include "engine/layers/residual.h"
#include "engine/train_step.h"
#include "kernels/conv_onednn.h"
#include "kernels/cpu_kernels.h"
#include "kernels/linear.h"
#include "models/resnet.h"

namespace aslnet {
namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Multiply-adds of the convolutions and the classifier in one forward pass of the set-up model.
double forward_macs(Layer& layer) {
  if (auto* conv = dynamic_cast<Conv2d*>(&layer)) return conv->conv_shape().macs();
  if (auto* seq = dynamic_cast<Sequential*>(&layer)) {
    double total = 0;
    for (auto& child : seq->layers()) total += forward_macs(*child);
    return total;
  }
  if (auto* res = dynamic_cast<Residual*>(&layer)) return forward_macs(res->main()) + forward_macs(res->shortcut());
  return 0;
}

// The machine's practical peak: GFLOP/s of a 2048^3 single-precision product on OpenBLAS.
double measured_sgemm_gflops() {
  const int64_t n = 2048;
  Tensor a = Tensor::zeros(Shape{n, n}, DType::F32), b = Tensor::zeros(Shape{n, n}, DType::F32),
         c = Tensor::zeros(Shape{n, n}, DType::F32);
  auto run = [&] {
    kernels::cpu::gemm<float>(false, false, n, n, n, 1.0f, a.data<float>(), n, b.data<float>(), n, 0.0f,
                              c.data<float>(), n);
  };
  run();
  const auto start = std::chrono::steady_clock::now();
  const int reps = 3;
  for (int i = 0; i < reps; ++i) run();
  return 2.0 * double(n * n * n) * reps / seconds_since(start) / 1e9;
}

}  // namespace
}  // namespace aslnet

int main(int argc, char** argv) {
  using namespace aslnet;
  kernels::use_passive_openmp(argv);  // may restart the program once (kernels/cpu_kernels.h)
  CLI::App app{"CPU training-step benchmark, aslnet against torchvision"};
  std::string arch = "resnet18", stem = "imagenet";
  int64_t size = 64, batch = 32, steps = 10, warmup = 3;
  int threads = 2;
  bool peer = true;
  app.add_option("--arch", arch)->check(CLI::IsMember(resnet_architectures()));
  app.add_option("--stem", stem)->check(CLI::IsMember({"imagenet", "small"}));
  app.add_option("--size", size);
  app.add_option("--batch", batch);
  app.add_option("--steps", steps);
  app.add_option("--warmup", warmup);
  app.add_option("--threads", threads, "CPU threads for both sides");
  app.add_flag("!--no-peer", peer, "skip the torchvision run");
  std::string cpu_kernels = kernels::onednn::available() ? "both" : "reference";
  app.add_option("--cpu-kernels", cpu_kernels, "fast, reference, or both (default both with oneDNN)")
      ->check(CLI::IsMember({"fast", "reference", "both"}));
  CLI11_PARSE(app, argc, argv);

  try {
    Context::set_cpu_threads(threads);
    std::vector<kernels::CpuKernels> backends;
    if (cpu_kernels == "both" || cpu_kernels == "fast") backends.push_back(kernels::parse_cpu_kernels("fast"));
    if (cpu_kernels == "both" || cpu_kernels == "reference") backends.push_back(kernels::CpuKernels::Reference);
    const double peak = measured_sgemm_gflops();
    fmt::print("{} {} stem, {}x{} px, batch {}, {} threads, OpenBLAS {} kernels, oneDNN {}\n", arch, stem, size, size,
               batch, threads, cpu_blas::core_name(), kernels::onednn::version());
    std::vector<std::pair<std::string, double>> ours;
    for (const kernels::CpuKernels backend : backends) {
      kernels::set_cpu_kernels(backend);
      Context ctx(Device::cpu(), 0);
      auto model = make_resnet({arch, stem, 1.0, 29, 3});
      init_torchvision(*model, ctx.rng());
      model->setup(ctx, batch, size, size);
      const ToyTask task = make_toy_task(batch, 29, size, 0);
      CrossEntropyLoss loss;
      Optimizer optimizer(*model, {.kind = "sgd", .momentum = 0.9, .weight_decay = 5e-4});
      for (int64_t i = 0; i < warmup; ++i) train_step(ctx, *model, loss, optimizer, task.images, task.labels, 0.01);
      const auto start = std::chrono::steady_clock::now();
      for (int64_t i = 0; i < steps; ++i) train_step(ctx, *model, loss, optimizer, task.images, task.labels, 0.01);
      const double seconds = seconds_since(start);
      const double rate = double(batch * steps) / seconds;
      const double step_flops = 3.0 * 2.0 * forward_macs(model->net());  // forward + two backward products
      const double achieved = step_flops * double(steps) / seconds / 1e9;
      const std::string name = std::string("aslnet ") + kernels::cpu_kernels_name(backend);
      fmt::print("{:<18} {:8.1f} img/s  {:6.1f} GFLOP/s ({:.0f}% of the {:.1f} GFLOP/s sgemm peak measured here)\n",
                 name, rate, achieved, 100.0 * achieved / peak, peak);
      std::fflush(stdout);
      ours.emplace_back(name, rate);
    }
    if (peer) {
      const double theirs =
          bench::peer_value("torch_cpu_train_step.py",
                            fmt::format("--arch {} --stem {} --size {} --batch {} --steps {} --warmup {} --threads {}",
                                        arch, stem, size, batch, steps, warmup, threads),
                            "images_per_second");
      if (theirs > 0) {
        fmt::print("{:<18} {:8.1f} img/s\n", "torchvision", theirs);
        for (const auto& [name, rate] : ours)
          fmt::print("ratio {:<12} {:8.2f}x (aslnet / torchvision)\n", name.substr(7), rate / theirs);
      }
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cpu_train_step: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
