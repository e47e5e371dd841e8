// Benchmark: one GPU training step (forward, loss, backward, SGD update) of a ResNet on CUDA device 0,
// and the same step in torchvision (bench/peers/torch_gpu_train_step.py) run from this program with
// the same architecture, batch, image size, classes and precision, so both numbers come from one
// invocation on one card. It also measures the card's own ceilings first (engine/core/device_peaks.h:
// a large bf16, tf32 and fp32 cuBLAS product, and a large device-to-device copy), and prints images/s
// for each side, their ratio, and aslnet's achieved TFLOP/s against the measured ceiling of the
// precision it ran in.
// Not a test: nothing is asserted. The last line is a `result key=value ...` line for scripts.
//
// Timing: CUDA events recorded on the Context's compute stream (seconds_per_call) around `steps` calls
// of train_step (or `steps` replays of one captured step with --cuda-graph), after `warmup` untimed
// steps, so the cuDNN algorithm search of setup and the first launches stay out of the number.
#include <CLI/CLI.hpp>
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>
#include <fmt/core.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "engine/core/cuda_check.h"
#include "engine/core/device_peaks.h"
#include "engine/layers/conv2d.h"
#include "engine/layers/residual.h"
#include "engine/graphed_step.h"
#include "engine/train_step.h"
#include "models/resnet.h"

namespace aslnet {
namespace {

// Multiply-adds of the convolutions in one forward pass of the set-up model (the batch included).
double conv_macs(Layer& layer) {
  if (auto* conv = dynamic_cast<Conv2d*>(&layer)) return conv->conv_shape().macs();
  if (auto* seq = dynamic_cast<Sequential*>(&layer)) {
    double total = 0;
    for (auto& child : seq->layers()) total += conv_macs(*child);
    return total;
  }
  if (auto* res = dynamic_cast<Residual*>(&layer)) return conv_macs(res->main()) + conv_macs(res->shortcut());
  return 0;
}

// Elements a convolution must touch at least once per pass: forward reads x and writes y; backward-data
// reads dy and writes dx; backward-filter reads x and dy: 3|x| + 3|y|. Weights are left out (small).
double conv_traffic_elems(Layer& layer) {
  if (auto* conv = dynamic_cast<Conv2d*>(&layer)) {
    const auto& s = conv->conv_shape();
    const double x = double(s.n) * s.h * s.w * s.c, y = double(s.n) * s.out_h() * s.out_w() * s.k;
    return 3 * x + 3 * y;
  }
  if (auto* seq = dynamic_cast<Sequential*>(&layer)) {
    double total = 0;
    for (auto& child : seq->layers()) total += conv_traffic_elems(*child);
    return total;
  }
  if (auto* res = dynamic_cast<Residual*>(&layer))
    return conv_traffic_elems(res->main()) + conv_traffic_elems(res->shortcut());
  return 0;
}

// The classifier's multiply-adds per image (fc.weight is [classes, features]).
double linear_macs_per_image(const Model& model) {
  double total = 0;
  for (const Parameter* p : model.parameters())
    if (p->role == ParamRole::LinearWeight) total += double(p->shape.numel());
  return total;
}

struct Options {
  std::string arch = "resnet50", stem = "imagenet", precision = "bf16", python = "python3", peer_script;
  int64_t size = 224, batch = 256, steps = 20, warmup = 5, classes = 29;
  bool tf32 = false, cuda_graph = false, peer = true;
};

struct Ours {
  bool ok = false;
  std::string error;
  double images_per_second = 0, step_seconds = 0, tflops = 0, forward_gmacs_per_image = 0, traffic_bytes = 0,
         loss = 0;
  bool graph_used = false;
};

Ours run_aslnet(const Options& o) {
  Ours ours;
  const Device device = Device::cuda(0);
  const DType dtype = o.precision == "bf16" ? DType::BF16 : DType::F32;
  Context ctx(device, 0);
  ctx.set_allow_tf32(o.tf32);
  auto model = make_initialised_model({o.arch, o.stem, 1.0, o.classes, 3}, ctx.rng(), dtype, device);
  model->setup(ctx, o.batch, o.size, o.size);
  const Tensor images = random_uniform(Shape{o.batch, o.size, o.size, 3}, dtype, device, 12345);
  Tensor labels_host = Tensor::empty(Shape{o.batch}, DType::I32, Device::cpu());
  Rng rng(777);
  for (int64_t i = 0; i < o.batch; ++i) labels_host.data<int32_t>()[i] = int32_t(rng.below(uint64_t(o.classes)));
  Tensor labels = labels_host.to(device);
  CrossEntropyLoss loss;
  Optimizer optimizer(*model, {.kind = "sgd", .momentum = 0.9, .weight_decay = 5e-4});
  const double lr = 0.01;
  LossResult last;
  for (int64_t i = 0; i < o.warmup; ++i) last = train_step(ctx, *model, loss, optimizer, images, labels, lr);
  ctx.synchronize();

  // --cuda-graph: the step captured once (engine/graphed_step.h) and replayed; like the eager steps,
  // each replay's loss is read back, so both sides pay the same per-step synchronisation.
  std::unique_ptr<GraphedTrainStep> graphed;
  if (o.cuda_graph) {
    graphed = std::make_unique<GraphedTrainStep>(ctx, *model, loss, optimizer);
    for (int i = 0; i < 2; ++i) {  // the eager first call, then the capture and its first replay
      graphed->run(images, labels, lr);
      last = loss.read_pending(ctx);
    }
    ours.graph_used = graphed->captured();
  }

  auto step = [&] {
    if (graphed) {
      graphed->run(images, labels, lr);
      last = loss.read_pending(ctx);
    } else {
      last = train_step(ctx, *model, loss, optimizer, images, labels, lr);
    }
  };
  // The warm-up steps ran above (before any capture): none here.
  const double seconds = double(o.steps) * seconds_per_call(ctx, 0, int(o.steps), step);
  ctx.synchronize();
  graphed.reset();

  const double forward_macs = conv_macs(model->net()) + double(o.batch) * linear_macs_per_image(*model);
  ours.ok = true;
  ours.loss = last.loss;
  ours.step_seconds = seconds / double(o.steps);
  ours.images_per_second = double(o.batch * o.steps) / seconds;
  ours.forward_gmacs_per_image = forward_macs / double(o.batch) / 1e9;
  ours.tflops = 3.0 * 2.0 * forward_macs / ours.step_seconds / 1e12;  // forward + two backward products
  ours.traffic_bytes = conv_traffic_elems(model->net()) * double(dtype_size(dtype));
  return ours;
}

double run_peer(const std::string& command) {
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return 0;
  char line[512];
  double value = 0;
  while (std::fgets(line, sizeof line, pipe) != nullptr) {
    if (std::sscanf(line, "images_per_second %lf", &value) != 1) std::fputs(line, stdout);  // the peer's notes
  }
  const int status = pclose(pipe);
  return status == 0 ? value : 0;
}

std::string version_text(int v) { return fmt::format("{}.{}", v / 1000, (v % 1000) / 10); }

}  // namespace
}  // namespace aslnet

int main(int argc, char** argv) {
  using namespace aslnet;
  CLI::App app{"GPU training-step benchmark, aslnet against torchvision, with the card's measured ceilings"};
  Options o;
  bool measure = true;
  app.add_option("--arch", o.arch)->check(CLI::IsMember(resnet_architectures()));
  app.add_option("--stem", o.stem)->check(CLI::IsMember({"imagenet", "small"}));
  app.add_option("--size", o.size, "image height and width");
  app.add_option("--batch", o.batch);
  app.add_option("--precision", o.precision)->check(CLI::IsMember({"fp32", "bf16"}));
  app.add_flag("--tf32", o.tf32, "TF32 tensor cores for fp32 convolutions and products (both sides)");
  app.add_flag("--cuda-graph", o.cuda_graph, "time replays of one captured step (aslnet side)");
  app.add_option("--steps", o.steps, "timed steps");
  app.add_option("--warmup", o.warmup, "untimed steps first");
  app.add_flag("!--no-peer", o.peer, "skip the torchvision run");
  app.add_flag("!--no-peaks", measure, "skip measuring the card's ceilings");
  app.add_option("--python", o.python, "interpreter with torch and torchvision (CUDA build)");
  app.add_option("--peer-script", o.peer_script,
                 "default: $ASLNET_SOURCE_DIR (else the source tree this was built from)/bench/peers/...");
  CLI11_PARSE(app, argc, argv);
  if (o.peer_script.empty()) {
    const char* env = std::getenv("ASLNET_SOURCE_DIR");
    o.peer_script = std::string(env != nullptr && *env != '\0' ? env : ASLNET_SOURCE_DIR) +
                    "/bench/peers/torch_gpu_train_step.py";
  }

  int failed = 0;
  try {
    if (gpu_count() == 0) {
      std::fprintf(stderr, "gpu_train_step: no CUDA GPU available\n");
      return 1;
    }
    int driver = 0, runtime = 0;
    CUDA_CHECK(cudaDriverGetVersion(&driver));
    CUDA_CHECK(cudaRuntimeGetVersion(&runtime));
    cudaDeviceProp prop{};
    CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
    int cublas_version = 0;
    {
      cublasHandle_t h;
      CUBLAS_CHECK(cublasCreate(&h));
      CUBLAS_CHECK(cublasGetVersion(h, &cublas_version));
      CUBLAS_CHECK(cublasDestroy(h));
    }
    fmt::print("device      {}, {} SMs, {:.0f} GiB, CUDA driver {} runtime {}, cuBLAS {}, cuDNN {}\n", prop.name,
               prop.multiProcessorCount, double(prop.totalGlobalMem) / (1 << 30), version_text(driver),
               version_text(runtime), cublas_version, cudnnGetVersion());
    fmt::print("config      {} {} stem, {}x{} px, batch {}, {}{}, {} warm-up + {} timed steps{}\n", o.arch, o.stem,
               o.size, o.size, o.batch, o.precision, o.precision == "fp32" ? (o.tf32 ? " (TF32 on)" : " (TF32 off)") : "",
               o.warmup, o.steps, o.cuda_graph ? ", CUDA graph" : "");
    std::fflush(stdout);

    DevicePeaks peaks;
    if (measure) {
      peaks = measure_peaks(Device::cuda(0));
      fmt::print("peaks       cuBLAS 8192^3: bf16 {:.0f}, tf32 {:.0f}, fp32 {:.1f} TFLOP/s; d2d copy {:.0f} GB/s (read+write)\n",
                 peaks.bf16_tflops, peaks.tf32_tflops, peaks.fp32_tflops, peaks.copy_gbs);
      std::fflush(stdout);
    }
    const DType dtype = o.precision == "bf16" ? DType::BF16 : DType::F32;
    const double peak = peaks.gemm_tflops(dtype, o.tf32);
    const char* peak_name = DevicePeaks::gemm_name(dtype, o.tf32);

    // aslnet's model, context and buffers are freed at the end of this scope, before the peer runs.
    Ours ours;
    try {
      ours = run_aslnet(o);
    } catch (const std::exception& e) {
      ours.error = e.what();
      (void)cudaGetLastError();
    }
    if (ours.ok) {
      fmt::print("aslnet      {:8.1f} img/s  {:7.2f} ms/step  {:6.1f} TFLOP/s", ours.images_per_second,
                 ours.step_seconds * 1e3, ours.tflops);
      if (peak > 0) fmt::print(" ({:.0f}% of the {:.0f} TFLOP/s {} peak measured here", 100 * ours.tflops / peak, peak, peak_name);
      if (peak > 0 && o.precision != "bf16" && peaks.bf16_tflops > 0)
        fmt::print(", {:.0f}% of the bf16 peak", 100 * ours.tflops / peaks.bf16_tflops);
      if (peak > 0) fmt::print(")");
      fmt::print("{}, loss {:.3f}\n", ours.graph_used ? ", CUDA graph" : "", ours.loss);
      fmt::print("work        {:.2f} GMAC per image forward (convolutions and classifier); step = 3 x 2 x that x batch\n",
                 ours.forward_gmacs_per_image);
      if (peaks.copy_gbs > 0) {
        const double floor_ms = ours.traffic_bytes / (peaks.copy_gbs * 1e9) * 1e3;
        fmt::print("traffic     >= {:.2f} GB/step through the convolutions alone (each reads and writes its tensors "
                   "once per pass; batch norm, ReLU, weights not counted): >= {:.2f} ms at {:.0f} GB/s, {:.0f}% of the "
                   "step\n",
                   ours.traffic_bytes / 1e9, floor_ms, peaks.copy_gbs, 100 * floor_ms / (ours.step_seconds * 1e3));
      }
    } else {
      fmt::print("aslnet      error: {}\n", ours.error);
      failed = 1;
    }
    std::fflush(stdout);

    double theirs = 0;
    if (o.peer) {
      const std::string command = fmt::format(
          "'{}' '{}' --arch {} --stem {} --size {} --batch {} --classes {} --precision {} {} --steps {} --warmup {}",
          o.python, o.peer_script, o.arch, o.stem, o.size, o.batch, o.classes, o.precision, o.tf32 ? "--tf32" : "",
          o.steps, o.warmup);
      theirs = run_peer(command);
      if (theirs > 0) {
        fmt::print("torchvision {:8.1f} img/s  {:7.2f} ms/step\n", theirs, double(o.batch) / theirs * 1e3);
        if (ours.ok) fmt::print("ratio       {:8.2f}x (aslnet / torchvision)\n", ours.images_per_second / theirs);
      } else {
        fmt::print("torchvision peer did not run ({}: needs {} with a CUDA build of torch and torchvision)\n", command,
                   o.python);
      }
    }
    fmt::print(
        "result arch={} size={} batch={} precision={} tf32={} graph={} aslnet_img_s={:.1f} torch_img_s={:.1f} "
        "ratio={:.3f} aslnet_tflops={:.1f} peak_tflops={:.1f} copy_gbs={:.0f}\n",
        o.arch, o.size, o.batch, o.precision, int(o.tf32), int(ours.graph_used), ours.images_per_second, theirs,
        ours.ok && theirs > 0 ? ours.images_per_second / theirs : 0.0, ours.tflops, peak, peaks.copy_gbs);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gpu_train_step: error: %s\n", e.what());
    return 1;
  }
  return failed;
}
