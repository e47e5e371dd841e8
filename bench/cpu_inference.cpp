// Benchmark: the latency of one inference forward pass of a ResNet on the CPU (what `aslnet predict`,
// `eval`, `translate` and `serve` run per batch; batch 1 by default: one photo), in four ways from one
// invocation on one machine:
//   - reference: the reference CPU kernels, batch norm a layer of its own;
//   - fast, batch norm a layer: oneDNN's convolutions, batch norm and ReLU run after them;
//   - fast, folded: batch norm folded into the convolutions, conv + bias + ReLU as one oneDNN primitive
//     (engine/layers/conv_bn_inference.h), as the commands run it;
//   - torchvision in evaluation mode under torch.inference_mode (bench/peers/torch_cpu_inference.py).
// Prints the median and 90th-percentile latency of each and their ratios. Not a test: nothing is
// asserted.
#include <fmt/core.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "bench/peer_value.h"
#include "engine/layers/conv_bn_inference.h"
#include "kernels/conv_onednn.h"
#include "kernels/cpu_kernels.h"
#include "models/resnet.h"

namespace aslnet {
namespace {

struct Latency {
  double median_ms = 0, p90_ms = 0;
};

Latency time_forward(kernels::CpuKernels backend, bool fold, const std::string& arch, const std::string& stem,
                     int64_t size, int64_t batch, int iters, int warmup) {
  kernels::set_cpu_kernels(backend);
  Context ctx(Device::cpu(), 0);
  auto model = make_resnet({arch, stem, 1.0, 29, 3});
  init_torchvision(*model, ctx.rng());
  if (fold) fold_batch_norm_for_inference(model->net());
  model->setup(ctx, batch, size, size);
  Tensor x = Tensor::zeros(Shape{batch, size, size, 3}, DType::F32);
  float* data = x.data<float>();
  for (int64_t i = 0; i < x.numel(); ++i) data[i] = float((i * 7919) % 255) / 255.0f - 0.5f;
  std::vector<double> ms;
  for (int i = 0; i < warmup + iters; ++i) {
    const auto start = std::chrono::steady_clock::now();
    model->forward(ctx, x, /*training=*/false);
    const double elapsed = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    if (i >= warmup) ms.push_back(elapsed);
  }
  std::sort(ms.begin(), ms.end());
  return {ms[ms.size() / 2], ms[std::min(ms.size() - 1, ms.size() * 9 / 10)]};
}

}  // namespace
}  // namespace aslnet

int main(int argc, char** argv) {
  using namespace aslnet;
  kernels::use_passive_openmp(argv);  // may restart the program once (kernels/cpu_kernels.h)
  CLI::App app{"CPU inference latency, aslnet (reference, fast, fast with batch norm folded) against torchvision"};
  std::string arch = "resnet18", stem = "imagenet";
  int64_t size = 64, batch = 1;
  int iters = 200, warmup = 20, threads = 2;
  bool peer = true;
  app.add_option("--arch", arch)->check(CLI::IsMember(resnet_architectures()));
  app.add_option("--stem", stem)->check(CLI::IsMember({"imagenet", "small"}));
  app.add_option("--size", size, "image side, px");
  app.add_option("--batch", batch, "images per forward pass");
  app.add_option("--iters", iters, "timed forward passes of each");
  app.add_option("--warmup", warmup, "untimed forward passes first");
  app.add_option("--threads", threads, "CPU threads for both sides");
  app.add_flag("!--no-peer", peer, "skip the torchvision run");
  CLI11_PARSE(app, argc, argv);

  try {
    Context::set_cpu_threads(threads);
    fmt::print("{} {} stem, {}x{} px, batch {}, {} threads, oneDNN {}; median (p90) of {} forward passes\n", arch, stem,
               size, size, batch, threads, kernels::onednn::version(), iters);
    struct Row {
      std::string name;
      Latency latency;
    };
    std::vector<Row> rows;
    rows.push_back(
        {"reference", time_forward(kernels::CpuKernels::Reference, false, arch, stem, size, batch, iters, warmup)});
    if (kernels::onednn::available()) {
      rows.push_back({"fast, batch norm a layer",
                      time_forward(kernels::CpuKernels::Fast, false, arch, stem, size, batch, iters, warmup)});
      rows.push_back(
          {"fast, folded", time_forward(kernels::CpuKernels::Fast, true, arch, stem, size, batch, iters, warmup)});
    }
    for (const Row& r : rows)
      fmt::print("{:<26} {:8.3f} ms ({:.3f})  {:8.1f} images/s\n", r.name, r.latency.median_ms, r.latency.p90_ms,
                 1000.0 * double(batch) / r.latency.median_ms);
    if (rows.size() == 3)
      fmt::print("folding: {:.2f}x faster than batch norm as a layer, {:.2f}x the reference\n",
                 rows[1].latency.median_ms / rows[2].latency.median_ms,
                 rows[0].latency.median_ms / rows[2].latency.median_ms);
    if (peer) {
      const double theirs =
          bench::peer_value("torch_cpu_inference.py",
                            fmt::format("--arch {} --stem {} --size {} --batch {} --iters {} --warmup {} --threads {}",
                                        arch, stem, size, batch, iters, warmup, threads),
                            "median_ms");
      if (theirs > 0) {
        fmt::print("{:<26} {:8.3f} ms\n", "torchvision (eval)", theirs);
        for (const Row& r : rows)
          fmt::print("ratio {:<20} {:8.2f}x (torchvision latency / aslnet latency)\n", r.name,
                     theirs / r.latency.median_ms);
      }
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cpu_inference: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
