// aslnet bench allreduce: all-reduce (average, f32) bandwidth per message size through aslnet's own
// communicators (engine/replication/), per GPU count, with nccl-tests' definitions so the numbers read
// like theirs:
//   algbw = bytes / time               (the message size over the time of one all-reduce)
//   busbw = algbw * 2 (n - 1) / n      (what each rank's link carries in a ring all-reduce of n ranks)
// With one rank busbw is 0 by that definition, but the time is still measured: it is the floor of a
// collective's overhead (on a GPU, NCCL's kernel for one rank).
//
//   aslnet bench allreduce --device cuda --gpu-counts 1,2,4,8   # NCCL over the first k GPUs, each k
//   aslnet bench allreduce --device cuda --devices 0,0          # replicas sharing one GPU (in-process)
//   aslnet bench allreduce --device cpu --replicas 1,2,4        # CPU threads of one process (in-process)
//   mpirun -np 2 aslnet bench allreduce --device cpu            # one replica per process (MPI; NCCL on GPUs)
//
// A GPU count beyond the machine's is printed as "not run", never estimated (the scaling model,
// bench/scaling/scaling_model.h, is where estimates live, and it says so). The communicators come from
// ProcessGroup::communicators (engine/replication/launch.h), exactly as `aslnet train` gets them; a
// process's replicas run on threads (run_replica_threads). Rank 0's first replica prints and writes
// --json. Each size: `warmup` untimed all-reduces, a barrier, then `iters` timed ones (seconds_per_call,
// engine/core/device_peaks.h); the time of one is averaged over the ranks (nccl-tests' default). GPU:
// CUDA events on the replica's own stream around the all-reduces, waited for with the communicator's
// synchronize() (the watchdog's wait). CPU: steady_clock around the blocking calls.
//
// For scale it also prints the device's measured copy bandwidth (GPU: a 256 MiB device-to-device
// cudaMemcpyAsync; CPU: a 64 MiB memcpy on one thread), counting bytes read plus bytes written as the
// training benchmarks do, and each row's busbw as a percentage of it. Nothing is asserted.
//
// CPU replicas of one process can compare the in-process communicator's two algorithms
// (engine/replication/in_process_ring.h) with a latency-bandwidth (alpha-beta) cost model whose alpha
// and beta are measured in the same invocation:
//
//   aslnet bench allreduce --device cpu --replicas 2,4 --algorithm both
//
// prints a table per algorithm and rank count, then one per rank count with both times and the
// model's, from two probes run after the tables:
//   alpha(n)   a barrier of n threads on a mutex and condition variable (what the ring waits on
//              between steps, and the central sum once), the mean of many rounds;
//   W(k)       memcpy bandwidth, bytes read + written per second, of k threads copying at once (their
//              own 32 MiB buffers each), so that sharing cores and the memory bus is in the figure;
//   t          threads per replica (the machine's cores / n, at least 1), as the replicas get them;
//   central(n, B) = alpha(n) + 2 n B / W(t)
//                 one replica's t threads read n buffers of B bytes and write n;
//   ring(n, B)    = 2 (n - 1) alpha(n) + 5 (n - 1) / n * B / (W(n t) / n)
//                 every replica at once moves 5 (n - 1) / n * B: per reduce-scatter step it reads two
//                 segments and writes one, per all-gather step it reads one and writes one. This is the
//                 textbook ring, 2 (n - 1) alpha + 2 (n - 1) / n * B / beta, with beta = (W(n t) / n) / 2.5:
//                 in shared memory each byte "sent" costs 2.5 bytes of memory traffic.
#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "app/cli_checks.h"
#include "app/device_options.h"
#include "bench/commands/bench.h"
#include "engine/core/buffer.h"
#include "engine/core/context.h"
#include "engine/core/cuda_check.h"
#include "engine/core/cuda_handles.h"
#include "engine/core/device_peaks.h"
#include "engine/core/gpu_api.h"
#include "engine/core/tensor.h"
#include "engine/replication/in_process_ring.h"
#include "engine/replication/launch.h"
#include "engine/replication/replica_threads.h"

namespace aslnet::bench {

namespace {

struct AllreduceOptions {
  std::string device = "auto", devices;
  std::vector<int> gpu_counts, replicas;  // empty: the defaults (1,2,4,8 GPUs; 1,2,4 CPU replicas)
  int iters = 20, warmup = 5;
  int64_t min_bytes = 8, max_bytes = 0;  // 0: 1 GiB on a GPU, 64 MiB on the CPU
  std::string json, out = "runs/bench-allreduce";
  std::string algorithm = "central";  // central, ring or both (CPU replicas of one process)
};

// One all-reduce size, as measured.
struct Row {
  int64_t bytes = 0;
  double seconds = 0, algbw_gbs = 0, busbw_gbs = 0;
  double model_seconds = 0;  // --algorithm both: the cost model's time (0: none)
};

// One set of replicas measured together: one table of the output.
struct Table {
  int ranks = 0;
  std::vector<Device> devices;  // this process's replicas (under mpirun: one)
  bool nccl_single = false;     // one GPU through NCCL rather than the in-process communicator
  std::string not_run;          // why this count was not run (empty: it was)
  std::string communicator, device_text;
  int threads_per_replica = 0;  // CPU
  AllReduceAlgorithm algorithm = AllReduceAlgorithm::Central;  // the in-process communicator's
  std::vector<Row> rows;
};

Table table_of(std::vector<Device> devices, int ranks, AllReduceAlgorithm algorithm = AllReduceAlgorithm::Central) {
  Table t;
  t.ranks = ranks;
  t.devices = std::move(devices);
  t.algorithm = algorithm;
  return t;
}

std::vector<Device> first_gpus(int count) {
  std::vector<Device> out;
  for (int i = 0; i < count; ++i) out.push_back(Device::cuda(i));
  return out;
}

// What to measure, one table each: under mpirun all ranks together; on a GPU each --gpu-counts entry
// (or the replicas of --devices); on the CPU each --replicas entry.
std::vector<Table> plan_tables(const AllreduceOptions& o, const ProcessGroup& group) {
  const bool cpu = o.device == "cpu";
  ASLNET_CHECK(!cpu || o.gpu_counts.empty()) << "--gpu-counts is for --device cuda (CPU replicas: --replicas 1,2,4)";
  ASLNET_CHECK(cpu || o.replicas.empty())
      << "--replicas is for the CPU; GPU replicas are --gpu-counts 1,2,4,8 or --devices 0,1 (0,0: sharing a GPU)";
  ASLNET_CHECK(o.devices.empty() || o.gpu_counts.empty()) << "--devices and --gpu-counts exclude each other";
  ASLNET_CHECK(o.algorithm == "central" || (cpu && !group.multi_process()))
      << "--algorithm " << o.algorithm
      << " is for CPU replicas of one process (--device cpu --replicas 2,4): the ring is the in-process "
         "communicator's; NCCL and MPI choose their own algorithm";
  if (group.multi_process()) {
    ASLNET_CHECK(o.gpu_counts.empty() && o.replicas.empty())
        << "under mpirun each process is one replica and all ranks are measured together: leave out "
        << (cpu ? "--replicas" : "--gpu-counts") << " (start more processes instead)";
    return {table_of(app::training_devices(o.device, o.devices, 1, group.size(), group.local_rank()), group.size())};
  }
  std::vector<Table> tables;
  if (cpu) {
    for (int n : o.replicas.empty() ? std::vector<int>{1, 2, 4} : o.replicas) {
      ASLNET_CHECK(n >= 1) << "--replicas " << n << ": expected at least 1";
      const std::vector<Device> replicas(size_t(n), Device::cpu());
      if (o.algorithm != "ring") tables.push_back(table_of(replicas, n, AllReduceAlgorithm::Central));
      if (o.algorithm != "central") tables.push_back(table_of(replicas, n, AllReduceAlgorithm::Ring));
    }
    return tables;
  }
  const int machine = gpu_count();
  ASLNET_CHECK(machine > 0) << "--device cuda: no CUDA GPU is available here (hint: --device cpu)";
  if (!o.devices.empty()) {
    // The replicas as `aslnet train --devices` makes them: 0,1 is NCCL, 0,0 the in-process communicator.
    const auto devices = app::training_devices(o.device, o.devices, 1, 1, 0);
    return {table_of(devices, int(devices.size()))};
  }
  for (int k : o.gpu_counts.empty() ? std::vector<int>{1, 2, 4, 8} : o.gpu_counts) {
    ASLNET_CHECK(k >= 1) << "--gpu-counts " << k << ": expected at least 1";
    Table t = table_of({}, k);
    if (k > machine) {
      t.not_run = fmt::format("not run (this machine has {} GPU{})", machine, machine == 1 ? "" : "s");
    } else {
      t.devices = first_gpus(k);
      t.nccl_single = k == 1;  // one GPU through NCCL too, so every count measures the same library
    }
    tables.push_back(t);
  }
  return tables;
}

std::string device_text(Device device) {
  if (device.is_cpu()) return fmt::format("cpu ({} thread(s) per replica)", Context::cpu_threads());
  return fmt::format("{} ({})", device.str(), gpu_name(device.index));
}

std::string devices_text(const Table& t) {
  if (t.devices.empty() || t.devices[0].is_cpu()) return "cpu";
  std::string out;
  for (const Device& d : t.devices) out += (out.empty() ? "" : ",") + d.str();
  return out;
}

// The timed all-reduces of one message: seconds for one, on this rank. The warm-up is run here rather
// than by seconds_per_call, so that a barrier can follow it: every rank starts the timed loop together.
// On a GPU the host waits for the timed loop with the communicator's synchronize (the watchdog's wait: a
// dead peer ends it with an error, never a hang).
double time_all_reduces(const AllreduceOptions& o, Communicator& comm, const Tensor& message, cudaStream_t s) {
  const auto all_reduce = [&] { comm.all_reduce_average(message, s); };
  for (int i = 0; i < o.warmup; ++i) all_reduce();
  comm.synchronize(s);
  comm.barrier();
  return seconds_per_call(message.device(), s, /*warmup=*/0, o.iters, all_reduce, [&] { comm.synchronize(s); });
}

void print_table_head(const Table& t) {
  fmt::print("\n== {} rank{}: {}, {} ==\n", t.ranks, t.ranks == 1 ? "" : "s", t.communicator, t.device_text);
  fmt::print("{:>12} {:>10} {:>11} {:>11} {:>11} {:>10}\n", "bytes", "f32 count", "time us", "algbw GB/s", "busbw GB/s",
             "% of copy");
  std::fflush(stdout);
}

const Row* peak_row(const Table& t) {
  // busbw is algbw times a constant of n: the same size maximises both.
  const Row* best = nullptr;
  for (const Row& r : t.rows)
    if (best == nullptr || r.algbw_gbs > best->algbw_gbs) best = &r;
  return best;
}

// One replica's part: every size in turn, all ranks in step. `lead` (rank 0's first replica) fills and
// prints the table.
void run_replica(const AllreduceOptions& o, Communicator& comm, Device device, double copy, Table* lead) {
  if (device.is_cuda()) CUDA_CHECK(cudaSetDevice(device.index));
  // Allocated before any collective: a cudaMalloc while a peer's NCCL kernel waits is best avoided.
  Tensor buffer = Tensor::zeros(Shape{std::max<int64_t>(1, o.max_bytes / 4)}, DType::F32, device);
  Stream stream = device.is_cuda() ? make_stream() : Stream{};
  const int n = comm.size();
  if (lead != nullptr) {
    lead->communicator = comm.name();
    lead->device_text = device_text(device);
    lead->threads_per_replica = device.is_cpu() ? Context::cpu_threads() : 0;
    print_table_head(*lead);
  }
  comm.barrier();
  for (int64_t bytes = std::max<int64_t>(4, o.min_bytes / 4 * 4); bytes <= o.max_bytes; bytes *= 2) {
    const Tensor message = buffer.slice(0, Shape{bytes / 4});
    std::vector<double> total{time_all_reduces(o, comm, message, stream.get())};
    comm.all_reduce_sum_host(total);
    Row row{.bytes = bytes, .seconds = total[0] / n};
    row.algbw_gbs = double(bytes) / row.seconds / 1e9;
    row.busbw_gbs = row.algbw_gbs * 2.0 * (n - 1) / n;
    if (lead == nullptr) continue;
    lead->rows.push_back(row);
    fmt::print("{:>12} {:>10} {:>11.2f} {:>11.3f} {:>11.3f} {:>9.1f}%\n", bytes, bytes / 4, row.seconds * 1e6,
               row.algbw_gbs, row.busbw_gbs, 100.0 * row.busbw_gbs / copy);
    std::fflush(stdout);
  }
  if (lead == nullptr || lead->rows.empty()) return;
  // One line per table for scripts (scripts/gpu-check.sh builds its results table from these).
  const Row& best = *peak_row(*lead);
  fmt::print(
      "result comm=\"{}\" ranks={} device={} copy_gbs={:.1f} peak_algbw_gbs={:.3f} peak_busbw_gbs={:.3f} "
      "at_bytes={}\n",
      lead->communicator, n, device.str(), copy, best.algbw_gbs, best.busbw_gbs, best.bytes);
  std::fflush(stdout);
}

// ---- The cost model (--algorithm both): its probes, its formulas, its table --------------------------

// Aggregate memcpy bandwidth of `threads` threads copying at once, each its own 32 MiB: bytes read plus
// bytes written per second, in GB/s, the mean of three timed rounds after one that touches the pages.
double probe_copy_gbs(int threads) {
  const size_t bytes = size_t(32) << 20;
  std::vector<std::vector<char>> from(size_t(threads), std::vector<char>(bytes, 1)),
      to(size_t(threads), std::vector<char>(bytes, 0));
  double seconds = 0;
  for (int round = 0; round < 4; ++round) {
    const auto start = std::chrono::steady_clock::now();
    std::vector<std::thread> copiers;
    for (int k = 0; k < threads; ++k)
      copiers.emplace_back([&, k] { std::memcpy(to[size_t(k)].data(), from[size_t(k)].data(), bytes); });
    for (auto& c : copiers) c.join();
    if (round > 0) seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  return 2.0 * double(bytes) * threads * 3 / seconds / 1e9;
}

// Seconds of one barrier of n threads on a mutex and a condition variable (the last to arrive wakes
// the others), the mean over many rounds after a warm-up: the cost model's alpha.
double probe_barrier_seconds(int n) {
  std::mutex mutex;
  std::condition_variable changed;
  int arrived = 0;
  int64_t generation = 0;
  const auto barrier = [&] {
    std::unique_lock<std::mutex> lock(mutex);
    const int64_t mine = generation;
    if (++arrived == n) {
      arrived = 0;
      ++generation;
      changed.notify_all();
    } else {
      changed.wait(lock, [&] { return generation != mine; });
    }
  };
  const int warmup = 100, rounds = 2000;
  std::chrono::steady_clock::time_point start;
  std::vector<std::thread> threads;
  for (int r = 0; r < n; ++r)
    threads.emplace_back([&, r] {
      for (int i = 0; i < warmup; ++i) barrier();
      if (r == 0) start = std::chrono::steady_clock::now();  // all are past the warm-up's last barrier
      for (int i = 0; i < rounds; ++i) barrier();
    });
  for (auto& t : threads) t.join();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / rounds;
}

struct CostModel {
  std::map<int, double> copy_gbs;   // W(k), by thread count
  std::map<int, double> barrier_s;  // alpha(n), by rank count
  static int threads_per_replica(int n) { return std::max(1, int(std::thread::hardware_concurrency()) / n); }
  double central(int n, int64_t bytes) const {
    return barrier_s.at(n) + 2.0 * n * double(bytes) / (copy_gbs.at(threads_per_replica(n)) * 1e9);
  }
  double ring(int n, int64_t bytes) const {
    const double each = copy_gbs.at(n * threads_per_replica(n)) / n * 1e9;  // one replica's share of W(n t)
    return 2.0 * (n - 1) * barrier_s.at(n) + 5.0 * (n - 1) / n * double(bytes) / each;
  }
};

// Probes what the tables' rank counts need; the replicas are gone by then, so the machine is quiet
// but for other processes.
CostModel probe_cost_model(const std::vector<Table>& tables) {
  CostModel m;
  for (const Table& t : tables) {
    const int n = t.ranks, per = CostModel::threads_per_replica(n);
    if (n < 2 || m.barrier_s.count(n) != 0) continue;
    m.barrier_s[n] = probe_barrier_seconds(n);
    for (int k : {per, n * per})
      if (m.copy_gbs.count(k) == 0) m.copy_gbs[k] = probe_copy_gbs(k);
  }
  return m;
}

nlohmann::ordered_json model_json(const CostModel& m) {
  nlohmann::ordered_json barrier = nlohmann::ordered_json::object(), copy = nlohmann::ordered_json::object();
  for (const auto& [n, s] : m.barrier_s) barrier[std::to_string(n)] = s * 1e6;
  for (const auto& [k, w] : m.copy_gbs) copy[std::to_string(k)] = w;
  return {{"central", "alpha(n) + 2 n B / W(t)"},
          {"ring", "2 (n-1) alpha(n) + 5 (n-1)/n B / (W(n t) / n)"},
          {"t", "threads per replica: max(1, cores / n)"},
          {"alpha_us_by_ranks", barrier},
          {"copy_gbs_by_threads", copy}};
}

// One table per rank count: the two algorithms' measured times beside the model's.
void print_comparison(std::vector<Table>& tables, const CostModel& m) {
  for (Table& central : tables) {
    if (central.algorithm != AllReduceAlgorithm::Central || central.ranks < 2) continue;
    Table* ring = nullptr;
    for (Table& t : tables)
      if (t.algorithm == AllReduceAlgorithm::Ring && t.ranks == central.ranks) ring = &t;
    if (ring == nullptr) continue;
    const int n = central.ranks, per = CostModel::threads_per_replica(n);
    fmt::print("\n== ring vs central vs the cost model, {} ranks, {} thread(s) per replica ==\n", n, per);
    fmt::print("alpha {:.1f} us (a barrier of {} threads); W({}) {:.1f} GB/s; W({}) {:.1f} GB/s, {:.1f} per replica\n",
               m.barrier_s.at(n) * 1e6, n, per, m.copy_gbs.at(per), n * per, m.copy_gbs.at(n * per),
               m.copy_gbs.at(n * per) / n);
    fmt::print("central = alpha + 2 n B / W({}); ring = 2(n-1) alpha + 5(n-1)/n B / (W({}) / n)\n", per, n * per);
    fmt::print("{:>12} {:>11} {:>11} {:>11} {:>11} {:>13}\n", "bytes", "central us", "model us", "ring us", "model us",
               "ring/central");
    int64_t crossover = -1;  // the smallest size from which the ring is faster at every larger size
    for (size_t i = 0; i < central.rows.size() && i < ring->rows.size(); ++i) {
      Row& c = central.rows[i];
      Row& r = ring->rows[i];
      c.model_seconds = m.central(n, c.bytes);
      r.model_seconds = m.ring(n, r.bytes);
      fmt::print("{:>12} {:>11.2f} {:>11.2f} {:>11.2f} {:>11.2f} {:>13.2f}\n", c.bytes, c.seconds * 1e6,
                 c.model_seconds * 1e6, r.seconds * 1e6, r.model_seconds * 1e6, r.seconds / c.seconds);
      if (r.seconds < c.seconds) {
        if (crossover < 0) crossover = c.bytes;
      } else {
        crossover = -1;
      }
    }
    fmt::print("compare ranks={} ring_faster_from_bytes={}\n", n, crossover < 0 ? "never" : std::to_string(crossover));
    std::fflush(stdout);
  }
}

nlohmann::ordered_json table_json(const Table& t) {
  nlohmann::ordered_json out{{"ranks", t.ranks}, {"run", t.not_run.empty()}};
  if (!t.not_run.empty()) {
    out["note"] = t.not_run;
    return out;
  }
  out["communicator"] = t.communicator;
  out["algorithm"] = algorithm_name(t.algorithm);
  out["devices"] = devices_text(t);
  if (t.threads_per_replica > 0) out["threads_per_replica"] = t.threads_per_replica;
  nlohmann::ordered_json rows = nlohmann::ordered_json::array();
  for (const Row& r : t.rows) {
    rows.push_back({{"bytes", r.bytes}, {"time_s", r.seconds}, {"algbw_gbs", r.algbw_gbs}, {"busbw_gbs", r.busbw_gbs}});
    if (r.model_seconds > 0) rows.back()["model_time_s"] = r.model_seconds;
  }
  out["rows"] = rows;
  if (const Row* best = peak_row(t)) {
    out["peak_busbw_gbs"] = best->busbw_gbs;
    out["peak_at_bytes"] = best->bytes;
  }
  return out;
}

void write_json(std::ofstream& out, const AllreduceOptions& o, const ProcessGroup& group,
                const std::vector<Table>& tables, Device reference, double copy,
                const nlohmann::ordered_json& model = nullptr) {
  nlohmann::ordered_json doc{
      {"benchmark",
       "all-reduce (average, f32), nccl-tests' definitions: algbw = bytes/time, "
       "busbw = algbw*2(n-1)/n; time averaged over the ranks"},
      {"command", command_line("aslnet bench allreduce")},
      {"date", utc_now()},
      {"device", reference.is_cpu() ? fmt::format("cpu ({} cores)", std::thread::hardware_concurrency())
                                    : gpu_name(reference.index)},
      {"gpus_on_machine", gpu_count()},
      {"processes", group.size()},
      {"launcher", group.multi_process() ? group.environment().launcher : "none"},
      {"copy_gbs", copy},
      {"iters", o.iters},
      {"warmup", o.warmup}};
  nlohmann::ordered_json counts = nlohmann::ordered_json::array();
  for (const Table& t : tables) counts.push_back(table_json(t));
  doc["counts"] = counts;
  if (!model.is_null()) doc["cost_model"] = model;
  out << doc.dump(2) << "\n";
  ASLNET_CHECK(out.good()) << "--json " << o.json << ": writing failed";
  fmt::print("\nwrote {}\n", o.json);
}

// Measures one table: its communicators, its replicas on threads; rank 0's first replica records.
void measure(const AllreduceOptions& o, ProcessGroup& group, Table& t, double copy) {
  // Replicas share the machine's cores, as in `aslnet train`: its processes, then each one's replicas.
  const int cores = std::max(1, int(std::thread::hardware_concurrency()) / group.local_size());
  Context::set_cpu_threads(std::max(1, cores / int(t.devices.size())));
  const auto comms = group.communicators(t.devices, t.nccl_single, t.algorithm);
  run_replica_threads(comms, [&](int r) {
    const bool lead = group.rank() == 0 && r == 0;
    run_replica(o, *comms[size_t(r)], t.devices[size_t(r)], copy, lead ? &t : nullptr);
  });
}

void run_bench_allreduce(AllreduceOptions o) {
  o.device = app::resolve_device(o.device);
  if (o.max_bytes <= 0) o.max_bytes = o.device == "cuda" ? int64_t(1) << 30 : int64_t(64) << 20;
  ASLNET_CHECK(o.min_bytes <= o.max_bytes) << "--min-bytes " << o.min_bytes << " is above --max-bytes " << o.max_bytes;
  // MPI starts here when mpirun launched this process (several ranks); a plain process needs none.
  ProcessGroup group;
  try {
    std::vector<Table> tables = plan_tables(o, group);
    const Device reference = tables[0].devices.empty() ? Device::cuda(0) : tables[0].devices[0];
    const bool lead = group.rank() == 0;
    // Opened now, so that an unwritable path stops the run before the measurements rather than after.
    std::ofstream json;
    if (lead) {
      o.json = results_file(o.out, o.json, "allreduce");
      json.open(o.json);
      ASLNET_CHECK(json.good()) << "--json " << o.json << ": cannot write this file";
    }
    // Measured by the lead alone before any communicator exists; the other ranks wait at their first
    // collective, off the device.
    // The copy bandwidth each busbw is compared with: read + write, 64 MiB on the CPU, 256 MiB on a GPU.
    const double copy =
        lead ? measure_copy_gbs(reference, reference.is_cpu() ? size_t(64) << 20 : size_t(256) << 20) : 0.0;
    if (lead) {
      fmt::print(
          "all-reduce (average, f32) per message size; nccl-tests' algbw = bytes / time, "
          "busbw = algbw * 2(n-1)/n\n");
      fmt::print("copy    {:.1f} GB/s (read+write) measured on {}: the reference for busbw\n", copy, reference.str());
      fmt::print("timing  {} warm-up + {} timed all-reduces per size, time averaged over the ranks\n", o.warmup,
                 o.iters);
      std::fflush(stdout);
    }
    for (Table& t : tables) {
      if (!t.not_run.empty()) {
        if (lead) fmt::print("\n== {} GPUs: {} ==\n", t.ranks, t.not_run);
        continue;
      }
      measure(o, group, t, copy);
    }
    nlohmann::ordered_json model;
    if (lead && o.algorithm == "both") {
      const CostModel m = probe_cost_model(tables);
      print_comparison(tables, m);
      model = model_json(m);
    }
    if (json.is_open()) write_json(json, o, group, tables, reference, copy, model);
  } catch (const std::exception& e) {
    // Under mpirun a failed rank ends the whole job (MPI_Abort), or the others would wait for it.
    if (group.multi_process()) group.abort_run(e.what());
    throw;
  }
}

}  // namespace

void register_bench_allreduce(CLI::App& bench) {
  auto o = std::make_shared<AllreduceOptions>();
  auto* cmd = bench.add_subcommand(
      "allreduce", "All-reduce (average, f32) bus bandwidth per message size and GPU count, nccl-tests' definitions");
  cmd->add_option("--device", o->device, "auto (cuda when there is a GPU), cuda or cpu")
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}));
  cmd->add_option("--gpu-counts", o->gpu_counts,
                  "GPU counts to measure, NCCL over the first k GPUs for each (default 1,2,4,8; counts beyond this "
                  "machine's GPUs are reported as not run)")
      ->delimiter(',');
  cmd->add_option("--devices", o->devices,
                  "instead of --gpu-counts: the replicas of `aslnet train --devices` (0,1: NCCL; 0,0: two replicas "
                  "sharing a GPU, in-process)");
  cmd->add_option("--replicas", o->replicas, "CPU: replica counts to measure, threads of this process (default 1,2,4)")
      ->delimiter(',');
  cmd->add_option("--min-bytes", o->min_bytes, "smallest message (doubled up to --max-bytes)")
      ->check(app::positive());
  cmd->add_option("--max-bytes", o->max_bytes, "largest message (default 1 GiB on a GPU, 64 MiB on the CPU)")
      ->check(app::non_negative());
  cmd->add_option("--algorithm", o->algorithm,
                  "CPU replicas: the in-process communicator's central sum (default), its ring, or both, then a "
                  "table per rank count of both beside a latency-bandwidth cost model measured in the same run")
      ->check(CLI::IsMember({"central", "ring", "both"}));
  cmd->add_option("--iters", o->iters, "timed all-reduces per size")->check(app::positive());
  cmd->add_option("--warmup", o->warmup, "untimed all-reduces per size first")->check(app::non_negative());
  cmd->add_option("--out", o->out,
                  "folder for bench-allreduce.json: every row (device, date, command line; per count: bytes, time, "
                  "algbw, busbw)");
  cmd->add_option("--json", o->json, "write the rows to this file instead of OUT/bench-allreduce.json");
  cmd->callback([o] { run_bench_allreduce(*o); });
}

}  // namespace aslnet::bench
