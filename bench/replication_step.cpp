// Benchmark: what data parallelism costs one training step (engine/replication/), in two measurements.
//
// (a) --replicas 1: the gradient reducer's overhead at world size 1. The plain step of bench/*_train_step
//     (train_step: forward, loss, backward, optimizer step) against the same step with a reducer, as
//     `aslnet train` queues it (engine/train_step.h: begin_backward before backward, finish before the
//     optimizer), over a one-rank in-process communicator and, on a GPU of a build
//     with NCCL, a one-rank NCCL communicator. What a single-replica run would pay for the replication
//     machinery (hooks, bucket bookkeeping, events, a one-rank collective); the target is under 2%.
//
// (b) --replicas N > 1: N replicas sharing one device (the in-process communicator, one thread each, as
//     `aslnet train --replicas N` on the CPU or `--devices 0,0` on a GPU): how much of the all-reduce
//     backward hides. Per step, the slowest replica's time for
//       T_compute  the step with the reducer installed but begin_backward(ctx, false): nothing reduced
//       T_total    the step with its buckets all-reduced while backward runs
//       T_comm     one all-reduce of the whole gradient arena alone (communicator->all_reduce_average)
//     hidden = 1 - (T_total - T_compute) / T_comm, clamped to [0, 1].
//
// Timing: CUDA events on each replica's compute stream (GPU), waited for with the communicator's
// synchronize(); steady_clock (CPU). The variants run in `rounds` alternating blocks of `steps` steps
// and each keeps its fastest block, so a busy neighbour (this machine is shared) slows every variant
// alike instead of one. Synthetic random images; nothing read from disk. Not a test: nothing is asserted.
#include <fmt/core.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "app/cli_checks.h"
#include "engine/core/device_peaks.h"
#include "engine/core/rng.h"
#include "engine/replication/gradient_reducer.h"
#include "engine/replication/in_process.h"
#include "engine/replication/launch.h"
#include "engine/replication/replica_threads.h"
#include "engine/train_step.h"
#include "models/resnet.h"

namespace aslnet {
namespace {

constexpr int64_t kClasses = 29;
constexpr double kLr = 0.01;

struct Options {
  std::string device = "cpu", arch = "resnet18", stem = "imagenet", precision = "fp32";
  double width = 1.0, bucket_mb = 25.0;
  int64_t size = 64, batch = 16, steps = 10, warmup = 3, rounds = 3;
  int replicas = 1, threads = 0;
};

// One replica: its context, model (weights initialised on the CPU, as aslnet train does, so every
// replica starts equal), optimizer, loss, and a synthetic batch of its own.
struct Replica {
  Context ctx;
  std::unique_ptr<Model> model;
  std::unique_ptr<Optimizer> optimizer;
  CrossEntropyLoss loss;
  Tensor images, labels;

  Replica(const Options& o, Device device, int index) : ctx(device, 0) {
    const DType dtype = o.precision == "bf16" ? DType::BF16 : DType::F32;
    model = make_initialised_model({o.arch, o.stem, o.width, kClasses, 3}, ctx.rng(), dtype, device);
    model->setup(ctx, o.batch, o.size, o.size);
    optimizer =
        std::make_unique<Optimizer>(*model, OptimizerConfig{.kind = "sgd", .momentum = 0.9, .weight_decay = 5e-4});
    Rng rng(0x9e3779b97f4a7c15ull + uint64_t(index));  // uniform inputs, never all zeros
    Tensor x = Tensor::empty(Shape{o.batch, o.size, o.size, 3}, model->compute_dtype(), Device::cpu());
    for (int64_t i = 0; i < x.numel(); ++i) {
      const float v = float(rng.uniform(-1.0, 1.0));
      if (x.dtype() == DType::BF16)
        x.data<bf16>()[i] = to_bf16(v);
      else
        x.data<float>()[i] = v;
    }
    Tensor y = Tensor::empty(Shape{o.batch}, DType::I32, Device::cpu());
    for (int64_t i = 0; i < o.batch; ++i) y.data<int32_t>()[i] = int32_t(rng.below(kClasses));
    images = x.to(device);
    labels = y.to(device);
  }

  void plain_step() { train_step(ctx, *model, loss, *optimizer, images, labels, kLr); }

  // The step as aslnet train queues it, with the reducer; `reduce` false: the hooks run, nothing is
  // all-reduced (what the step costs without communication). The loss is read as train_step reads it.
  void reduced_step(GradientReducer& reducer, bool reduce) {
    TrainStepOptions options;
    options.reducer = &reducer;
    options.all_reduce = reduce;
    TrainStep(ctx, *model, loss, *optimizer, options).queue(0, images, labels, Tensor(), kLr);
    loss.read_pending(ctx);
  }

  // Seconds per call of `body`, over `steps` calls (engine/core/device_peaks.h). GPU: the end is waited
  // for through `comm` when there is one (its watchdog), else directly.
  double time_per_call(int64_t steps, Communicator* comm, const std::function<void()>& body) {
    if (ctx.device().is_cpu()) return seconds_per_call(ctx.device(), nullptr, 0, int(steps), body);
    std::function<void()> wait;
    if (comm != nullptr) wait = [&] { comm->synchronize(ctx.stream()); };
    return seconds_per_call(ctx.device(), ctx.stream(), 0, int(steps), body, wait);
  }
};

ReducerOptions reducer_options(const Options& o) {
  const auto bytes = int64_t(o.bucket_mb * double(1 << 20));
  return {.bucket_bytes = bytes, .first_bucket_bytes = std::min<int64_t>(1 << 20, bytes)};  // as aslnet train
}

std::string describe(const Options& o, Device device) {
  std::string where = device.is_cpu() ? fmt::format("cpu, {} thread(s) per replica", Context::cpu_threads())
                                      : fmt::format("{} ({})", device.str(), gpu_name(device.index));
  return fmt::format(
      "{} {} stem, width {}, {}x{} px, batch {} per replica, {}, {}; {} warm-up steps, {} rounds of {} "
      "timed steps per variant (fastest round kept)",
      o.arch, o.stem, o.width, o.size, o.size, o.batch, o.precision, where, o.warmup, o.rounds, o.steps);
}

// (a) One replica: the plain step against the reduced step over each one-rank communicator.
void measure_overhead(const Options& o, Device device) {
  struct Variant {
    std::string name;
    std::unique_ptr<Communicator> comm;  // none: the plain step
    bool reduce = true;                  // false: the reducer's hooks run, no collective starts
    double best = 1e30;
  };
  std::vector<Variant> variants;
  variants.push_back({"plain (train_step)", nullptr});
  // The hooks and bucket bookkeeping alone, to tell their cost from the collectives'.
  variants.push_back(
      {"reducer, reduce=false (hooks only)", std::move(make_in_process_communicators({device})[0]), false});
  variants.push_back({"", std::move(make_in_process_communicators({device})[0])});
  ProcessGroup group;
  if (device.is_cuda() && built_with_nccl())
    variants.push_back({"", std::move(group.communicators({device}, /*nccl_in_process=*/true)[0])});
  for (auto& v : variants)
    if (v.name.empty()) v.name = "reducer, " + v.comm->name() + ", 1 rank";

  Replica rep(o, device, 0);
  for (int64_t i = 0; i < o.warmup; ++i) rep.plain_step();
  size_t buckets = 0;
  for (int64_t round = 0; round < o.rounds; ++round) {
    for (auto& v : variants) {
      double t;
      if (!v.comm) {
        // An untimed step first, as the reduced variants have: each timed block then starts with work
        // already queued, not on an idle GPU that counts the first launches' latency.
        rep.plain_step();
        t = rep.time_per_call(o.steps, nullptr, [&] { rep.plain_step(); });
      } else {
        // A reducer per block: it installs the model's backward hook, and the plain step must run without.
        GradientReducer reducer(*rep.model, *v.comm, reducer_options(o));
        buckets = reducer.buckets().size();
        rep.reduced_step(reducer, v.reduce);  // untimed: the first call meets each layer's parameters
        t = rep.time_per_call(o.steps, v.comm.get(), [&] { rep.reduced_step(reducer, v.reduce); });
      }
      v.best = std::min(v.best, t);
    }
  }
  fmt::print("overhead at world size 1 ({} gradient values in {} bucket(s) of <= {} MiB)\n",
             rep.model->gradient_arena().numel(), buckets, o.bucket_mb);
  const double plain = variants[0].best;
  for (const auto& v : variants) {
    fmt::print("  {:<36} {:9.2f} ms/step {:10.1f} img/s", v.name, v.best * 1e3, double(o.batch) / v.best);
    if (v.comm) fmt::print("  overhead {:+.2f}% (target < 2%)", 100.0 * (v.best / plain - 1.0));
    fmt::print("\n");
  }
  for (const auto& v : variants)
    if (v.comm && v.reduce)
      fmt::print("result mode=overhead comm=\"{}\" plain_img_s={:.1f} reduced_img_s={:.1f} overhead_pct={:.2f}\n",
                 v.comm->name(), double(o.batch) / plain, double(o.batch) / v.best, 100.0 * (v.best / plain - 1.0));
}

// (b) N replicas sharing `device`: how much of the all-reduce hides behind backward.
void measure_hiding(const Options& o, Device device) {
  const auto comms = make_in_process_communicators(std::vector<Device>(size_t(o.replicas), device));
  const int n = o.replicas;
  enum { kCompute, kTotal, kComm, kKinds };
  std::vector<double> best(kKinds, 1e30);  // the slowest replica's time, fastest round (filled by replica 0)
  int64_t arena = 0;
  size_t buckets = 0;
  std::mutex setup;
  run_replica_threads(comms, [&](int r) {
    Communicator& comm = *comms[size_t(r)];
    std::unique_ptr<Replica> rep;
    {
      // One at a time: setup times cuDNN's candidate algorithms, which a neighbour's would disturb.
      std::lock_guard<std::mutex> lock(setup);
      rep = std::make_unique<Replica>(o, device, r);
    }
    comm.barrier();  // and no replica computes while another is still timing its algorithms
    GradientReducer reducer(*rep->model, comm, reducer_options(o));
    for (int64_t i = 0; i < o.warmup; ++i) rep->reduced_step(reducer, true);
    const Tensor& grads = rep->model->gradient_arena();
    cudaStream_t stream = device.is_cuda() ? rep->ctx.stream() : nullptr;
    for (int64_t round = 0; round < o.rounds; ++round) {
      // Every replica's time in its own slot; the sum over replicas gathers them all.
      std::vector<double> times(size_t(kKinds * n), 0.0);
      auto block = [&](int kind, const std::function<void()>& body) {
        comm.synchronize(stream);
        comm.barrier();  // the replicas start each block together
        times[size_t(kind * n + r)] = rep->time_per_call(o.steps, &comm, body);
      };
      block(kCompute, [&] { rep->reduced_step(reducer, false); });
      block(kTotal, [&] { rep->reduced_step(reducer, true); });
      block(kComm, [&] { comm.all_reduce_average(grads, stream); });
      comm.all_reduce_sum_host(times);
      if (r == 0)
        for (int k = 0; k < kKinds; ++k)
          best[size_t(k)] =
              std::min(best[size_t(k)], *std::max_element(times.begin() + k * n, times.begin() + (k + 1) * n));
    }
    if (r == 0) arena = grads.numel(), buckets = reducer.buckets().size();
  });
  const double compute = best[kCompute], total = best[kTotal], comm = best[kComm];
  const double exposed = total - compute;
  const double hidden = std::clamp(1.0 - exposed / comm, 0.0, 1.0);
  fmt::print("{} replicas sharing {}, {}: {} gradient values ({:.1f} MB) in {} bucket(s) of <= {} MiB\n", n,
             device.str(), comms[0]->name(), arena, double(arena) * 4 / 1e6, buckets, o.bucket_mb);
  fmt::print("  T_compute {:9.2f} ms/step {:9.1f} img/s  reducer installed, begin_backward(reduce=false)\n",
             compute * 1e3, double(n * o.batch) / compute);
  fmt::print("  T_total   {:9.2f} ms/step {:9.1f} img/s  buckets all-reduced during backward\n", total * 1e3,
             double(n * o.batch) / total);
  fmt::print("  T_comm    {:9.2f} ms                       one all-reduce of the whole gradient arena, alone\n",
             comm * 1e3);
  fmt::print(
      "  exposed   {:9.2f} ms/step (T_total - T_compute); hidden {:.0f}% of T_comm = 1 - exposed / T_comm, "
      "clamped to [0, 1]\n",
      exposed * 1e3, 100.0 * hidden);
  fmt::print(
      "result mode=hiding comm=\"{}\" replicas={} t_compute_ms={:.3f} t_total_ms={:.3f} t_comm_ms={:.3f} "
      "hidden={:.3f} total_img_s={:.1f}\n",
      comms[0]->name(), n, compute * 1e3, total * 1e3, comm * 1e3, hidden, double(n * o.batch) / total);
}

}  // namespace
}  // namespace aslnet

int main(int argc, char** argv) {
  using namespace aslnet;
  CLI::App app{"Cost of replication in a training step: reducer overhead at world size 1, hidden communication"};
  Options o;
  app.add_option("--device", o.device)->check(CLI::IsMember({"cpu", "cuda"}));
  app.add_option("--arch", o.arch)->check(CLI::IsMember(resnet_architectures()));
  app.add_option("--width", o.width, "channel multiplier (1: torchvision's widths)")->check(app::positive());
  app.add_option("--stem", o.stem)->check(CLI::IsMember({"imagenet", "small"}));
  app.add_option("--size", o.size, "image height and width")->check(app::positive());
  app.add_option("--batch", o.batch, "images per replica")->check(app::positive());
  app.add_option("--replicas", o.replicas,
                 "1: reducer overhead; N > 1: N replicas sharing the device, hidden "
                 "communication")
      ->check(app::in_range(1, 16));
  app.add_option("--precision", o.precision, "bf16: mixed precision (cuda only)")
      ->check(CLI::IsMember({"fp32", "bf16"}));
  app.add_option("--steps", o.steps, "timed steps per round and variant")->check(app::positive());
  app.add_option("--warmup", o.warmup, "untimed steps first")->check(app::non_negative());
  app.add_option("--rounds", o.rounds, "alternating rounds; each variant keeps its fastest")
      ->check(app::positive());
  app.add_option("--bucket-mb", o.bucket_mb, "gradient bucket size (aslnet train --bucket-mb)")
      ->check(app::positive());
  app.add_option("--threads", o.threads, "CPU threads in all, shared by the replicas (default: every core)");
  CLI11_PARSE(app, argc, argv);

  try {
    const Device device = o.device == "cuda" ? Device::cuda(0) : Device::cpu();
    ASLNET_CHECK(device.is_cpu() || gpu_count() > 0) << "--device cuda: no CUDA GPU here";
    ASLNET_CHECK(device.is_cuda() || o.precision == "fp32") << "--precision bf16 is mixed precision on the GPU";
    // CPU replicas share the cores, as `aslnet train --replicas N` shares them.
    const int cores = o.threads > 0 ? o.threads : int(std::max(1u, std::thread::hardware_concurrency()));
    Context::set_cpu_threads(std::max(1, cores / o.replicas));
    fmt::print("config  {}\n", describe(o, device));
    std::fflush(stdout);
    if (o.replicas == 1)
      measure_overhead(o, device);
    else
      measure_hiding(o, device);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "replication_step: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
