// Benchmark: all-reduce (average, f32) bandwidth per message size through aslnet's own communicators
// (engine/replication/), with nccl-tests' definitions so the numbers read like theirs:
//   algbw = bytes / time               (the message size over the time of one all-reduce)
//   busbw = algbw * 2 (n - 1) / n      (what each rank's link carries in a ring all-reduce of n ranks)
// With one replica busbw is 0 by that definition, but the time is still measured: it is the floor of
// a collective's overhead (on a GPU, the in-process communicator's kernel and events).
//
//   allreduce_bandwidth --device cpu --replicas 4         # CPU threads of one process (in-process)
//   allreduce_bandwidth --device cuda --devices 0,1       # one GPU each (NCCL)
//   allreduce_bandwidth --device cuda --devices 0,0       # replicas sharing one GPU (in-process)
//   mpirun -np 2 allreduce_bandwidth --device cpu         # one replica per process (MPI; NCCL on GPUs)
//
// The communicators come from ProcessGroup::communicators (engine/replication/launch.h), exactly as
// `aslnet train` gets them; a process's replicas run on threads (run_replica_threads). Rank 0's first
// replica prints. Each size: `warmup` untimed all-reduces, a barrier, then `iters` timed ones; the
// time of one is averaged over the ranks (nccl-tests' default). GPU: CUDA events on the replica's own
// stream around start_all_reduce_average + finish, waited for with the communicator's synchronize()
// (the watchdog's wait). CPU: steady_clock around the blocking calls.
//
// For scale it also prints the device's measured copy bandwidth (GPU: a 256 MiB device-to-device
// cudaMemcpyAsync; CPU: a 64 MiB memcpy on one thread), counting bytes read plus bytes written as
// gpu_train_step does, and each row's busbw as a percentage of it. Not a test: nothing is asserted.
#include <cuda_runtime.h>
#include <fmt/core.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstring>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "engine/core/buffer.h"
#include "engine/core/context.h"
#include "engine/core/cuda_check.h"
#include "engine/core/cuda_handles.h"
#include "engine/core/tensor.h"
#include "engine/replication/launch.h"
#include "engine/replication/replica_threads.h"

namespace aslnet {
namespace {

struct Options {
  std::string device = "cpu", devices;
  int replicas = 1, iters = 20, warmup = 5;
  int64_t min_bytes = 8, max_bytes = 0;  // 0: 256 MiB on a GPU, 64 MiB on the CPU
};

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// This process's replicas: --replicas CPU threads, or the GPUs of --devices; under mpirun one each
// (the GPU of --devices' local-rank entry, or the GPU numbered by the local rank).
std::vector<Device> local_devices(const Options& o, const ProcessGroup& group) {
  if (o.device == "cpu") {
    ASLNET_CHECK(o.devices.empty()) << "--devices is for --device cuda (CPU replicas: --replicas N)";
    ASLNET_CHECK(!group.multi_process() || o.replicas == 1) << "under mpirun each process is one replica";
    return std::vector<Device>(size_t(o.replicas), Device::cpu());
  }
  ASLNET_CHECK(o.replicas == 1) << "--replicas is for the CPU; GPU replicas are listed with --devices (0,1 or 0,0)";
  ASLNET_CHECK(gpu_count() > 0) << "--device cuda: no CUDA GPU here";
  std::vector<Device> out;
  std::stringstream list(o.devices.empty() ? "0" : o.devices);
  for (std::string item; std::getline(list, item, ',');) out.push_back(Device::cuda(std::stoi(item)));
  if (group.multi_process())
    return {int(out.size()) > group.local_rank() ? out[size_t(group.local_rank())] : Device::cuda(group.local_rank())};
  return out;
}

// The device's copy bandwidth in GB/s, bytes read plus bytes written (gpu_train_step's convention).
double copy_gbs(Device device) {
  const int reps = 10;
  if (device.is_cpu()) {
    const size_t bytes = size_t(64) << 20;
    Buffer src = Buffer::host(bytes), dst = Buffer::host(bytes);
    std::memset(src.data(), 1, bytes);
    std::memcpy(dst.data(), src.data(), bytes);  // touches every page of dst first
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < reps; ++i) std::memcpy(dst.data(), src.data(), bytes);
    return 2.0 * double(bytes) * reps / seconds_since(start) / 1e9;
  }
  const size_t bytes = size_t(256) << 20;
  CUDA_CHECK(cudaSetDevice(device.index));
  Buffer src = Buffer::device(bytes, device.index), dst = Buffer::device(bytes, device.index);
  Stream stream = make_stream();
  Event start = make_event(true), stop = make_event(true);
  CUDA_CHECK(cudaMemsetAsync(src.data(), 1, bytes, stream.get()));
  CUDA_CHECK(cudaMemcpyAsync(dst.data(), src.data(), bytes, cudaMemcpyDeviceToDevice, stream.get()));
  CUDA_CHECK(cudaEventRecord(start.get(), stream.get()));
  for (int i = 0; i < reps; ++i)
    CUDA_CHECK(cudaMemcpyAsync(dst.data(), src.data(), bytes, cudaMemcpyDeviceToDevice, stream.get()));
  CUDA_CHECK(cudaEventRecord(stop.get(), stream.get()));
  CUDA_CHECK(cudaEventSynchronize(stop.get()));
  float ms = 0;
  CUDA_CHECK(cudaEventElapsedTime(&ms, start.get(), stop.get()));
  return 2.0 * double(bytes) * reps / (ms / 1e3) / 1e9;
}

std::string device_text(Device device) {
  if (device.is_cpu()) return fmt::format("cpu ({} thread(s) per replica)", Context::cpu_threads());
  return fmt::format("{} ({})", device.str(), gpu_name(device.index));
}

// One replica's part: every size in turn, all ranks in step. `lead`: this replica prints.
void run_replica(const Options& o, Communicator& comm, Device device, bool lead) {
  if (device.is_cuda()) CUDA_CHECK(cudaSetDevice(device.index));
  // Allocated before any collective: a cudaMalloc while a peer's NCCL kernel waits is best avoided.
  Tensor buffer = Tensor::zeros(Shape{std::max<int64_t>(1, o.max_bytes / 4)}, DType::F32, device);
  Stream stream = device.is_cuda() ? make_stream() : Stream{};
  Event start = device.is_cuda() ? make_event(true) : Event{}, stop = device.is_cuda() ? make_event(true) : Event{};
  cudaStream_t s = stream.get();
  // The lead measures the copy bandwidth alone: the other replicas wait at the barrier, off the device.
  const double copy = lead ? copy_gbs(device) : 0.0;
  comm.barrier();
  const int n = comm.size();
  if (lead) {
    fmt::print("communicator {}, {} replica(s) in all, device {}\n", comm.name(), n, device_text(device));
    fmt::print("copy         {:.1f} GB/s (read+write) measured on {}\n", copy, device.str());
    fmt::print("timing       {} warm-up + {} timed all-reduces per size, time averaged over the ranks\n", o.warmup,
               o.iters);
    fmt::print("{:>12} {:>10} {:>11} {:>11} {:>11} {:>9}\n", "bytes", "f32 count", "time us", "algbw GB/s",
               "busbw GB/s", "% of copy");
    std::fflush(stdout);
  }
  double best_algbw = 0;  // busbw is algbw times a constant of n: the same size maximises both
  int64_t best_bytes = 0;
  for (int64_t bytes = std::max<int64_t>(4, o.min_bytes / 4 * 4); bytes <= o.max_bytes; bytes *= 2) {
    const Tensor message = buffer.slice(0, Shape{bytes / 4});
    for (int i = 0; i < o.warmup; ++i) comm.all_reduce_average(message, s);
    comm.synchronize(s);
    comm.barrier();  // every rank starts the timed loop together
    double seconds = 0;
    if (device.is_cuda()) {
      CUDA_CHECK(cudaEventRecord(start.get(), s));
      for (int i = 0; i < o.iters; ++i) comm.all_reduce_average(message, s);
      CUDA_CHECK(cudaEventRecord(stop.get(), s));
      comm.synchronize(s);
      float ms = 0;
      CUDA_CHECK(cudaEventElapsedTime(&ms, start.get(), stop.get()));
      seconds = ms / 1e3;
    } else {
      const auto t0 = std::chrono::steady_clock::now();
      for (int i = 0; i < o.iters; ++i) comm.all_reduce_average(message, s);
      seconds = seconds_since(t0);
    }
    std::vector<double> total{seconds / o.iters};
    comm.all_reduce_sum_host(total);
    const double time = total[0] / n;
    const double algbw = double(bytes) / time / 1e9, busbw = algbw * 2.0 * (n - 1) / n;
    if (algbw > best_algbw) best_algbw = algbw, best_bytes = bytes;
    if (lead) {
      fmt::print("{:>12} {:>10} {:>11.2f} {:>11.3f} {:>11.3f} {:>8.1f}%\n", bytes, bytes / 4, time * 1e6, algbw, busbw,
                 100.0 * busbw / copy);
      std::fflush(stdout);
    }
  }
  if (lead)
    fmt::print(
        "result comm=\"{}\" ranks={} device={} copy_gbs={:.1f} peak_algbw_gbs={:.3f} peak_busbw_gbs={:.3f} "
        "at_bytes={}\n",
        comm.name(), n, device.str(), copy, best_algbw, best_algbw * 2.0 * (n - 1) / n, best_bytes);
}

}  // namespace
}  // namespace aslnet

int main(int argc, char** argv) {
  using namespace aslnet;
  CLI::App app{"All-reduce (average, f32) bandwidth per message size through aslnet's communicators"};
  Options o;
  app.add_option("--device", o.device)->check(CLI::IsMember({"cpu", "cuda"}));
  app.add_option("--replicas", o.replicas, "CPU replicas in this process (threads)")->check(CLI::Range(1, 16));
  app.add_option("--devices", o.devices, "GPUs, one replica each: 0, 0,1 (NCCL), 0,0 (sharing one GPU)");
  app.add_option("--min-bytes", o.min_bytes, "smallest message (doubled up to --max-bytes)")
      ->check(CLI::PositiveNumber);
  app.add_option("--max-bytes", o.max_bytes, "largest message (default 256 MiB on a GPU, 64 MiB on the CPU)");
  app.add_option("--iters", o.iters, "timed all-reduces per size")->check(CLI::PositiveNumber);
  app.add_option("--warmup", o.warmup, "untimed all-reduces per size first")->check(CLI::NonNegativeNumber);
  CLI11_PARSE(app, argc, argv);
  if (o.max_bytes <= 0) o.max_bytes = o.device == "cuda" ? int64_t(256) << 20 : int64_t(64) << 20;

  // MPI starts here when mpirun launched this process (several ranks); a plain process needs none.
  ProcessGroup group;
  try {
    const std::vector<Device> devices = local_devices(o, group);
    // Replicas share the machine's cores, as in `aslnet train`: its processes, then each one's replicas.
    const int cores = std::max(1, int(std::thread::hardware_concurrency()) / group.local_size());
    Context::set_cpu_threads(std::max(1, cores / int(devices.size())));
    const auto comms = group.communicators(devices);
    run_replica_threads(
        comms, [&](int r) { run_replica(o, *comms[size_t(r)], devices[size_t(r)], group.rank() == 0 && r == 0); });
  } catch (const std::exception& e) {
    std::fprintf(stderr, "allreduce_bandwidth: error: %s\n", e.what());
    if (group.multi_process()) group.abort_run(e.what());
    return 1;
  }
  return 0;
}
