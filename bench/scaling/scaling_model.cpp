// The scaling model (bench/scaling/scaling_model.h says what it computes; docs/scaling-model.md why, with the
// sources of its assumptions and its limits).
#include "bench/scaling/scaling_model.h"

#include <fmt/core.h>

#include <algorithm>
#include <fstream>
#include <numeric>

#include "app/cli_checks.h"
#include "engine/replication/in_process.h"

namespace aslnet::bench {

namespace {

constexpr double kMiB = double(1 << 20);

// The bandwidth sources are cited in docs/scaling-model.md; the latencies are NCCL's own cost model
// (src/graph/tuning.cc: hwLat for the ring algorithm with the Simple protocol, which NCCL uses for
// messages of the size of gradient buckets).
LinkTier assumed_intra_node() {
  return {450.0, 3.4e-6,
          "assumed: NVLink 4 on an 8x H100 SXM node, 900 GB/s per GPU in all (NVIDIA); nccl-tests all-reduce "
          "busbw of about 450 GB/s reported publicly",
          "assumed: NCCL's cost model, ring/Simple over NVLink"};
}

LinkTier assumed_inter_node() {
  return {40.0, 9.6e-6,
          "assumed: one InfiniBand NDR NIC per GPU, 400 Gb/s = 50 GB/s, of which about 80% as all-reduce busbw",
          "assumed: NCCL's cost model, ring/Simple over the network"};
}

const char* tier_name(const ScalingInputs& in, int gpus) {
  if (gpus == 1) return "one GPU";
  return gpus <= in.link.gpus_per_node ? "within a node" : "across nodes";
}

const LinkTier& tier_of(const LinkModel& link, int gpus) {
  return gpus <= link.gpus_per_node ? link.intra_node : link.inter_node;
}

void check_inputs(const ScalingInputs& in) {
  ASLNET_CHECK(in.forward_backward_seconds > 0) << "scaling model: the measured forward+backward time must be positive";
  ASLNET_CHECK(in.backward_seconds >= 0 && in.backward_seconds <= in.forward_backward_seconds)
      << "scaling model: the backward time (" << in.backward_seconds << " s) must lie within forward+backward ("
      << in.forward_backward_seconds << " s)";
  ASLNET_CHECK(in.optimizer_seconds >= 0) << "scaling model: the optimizer time must not be negative";
  ASLNET_CHECK(in.images_per_gpu > 0) << "scaling model: the images per GPU must be positive";
  ASLNET_CHECK(in.link.gpus_per_node >= 1) << "scaling model: --gpus-per-node must be at least 1";
  for (int64_t b : in.bucket_bytes) ASLNET_CHECK(b >= 0) << "scaling model: a bucket of " << b << " bytes";
}

// The communication stream of one step on `gpus` GPUs, timed from the start of backward: buckets become
// ready as backward writes their bytes (evenly in arena order) and go out one after the other.
struct CommSchedule {
  double busy = 0;      // the all-reduces' own time, summed
  double last_end = 0;  // when the last one ends (0: there were none)
};

CommSchedule schedule_buckets(const ScalingInputs& in, int gpus) {
  CommSchedule s;
  const double total = double(std::accumulate(in.bucket_bytes.begin(), in.bucket_bytes.end(), int64_t(0)));
  if (gpus == 1 || total == 0) return s;
  const LinkTier& tier = tier_of(in.link, gpus);
  double written = 0;
  for (int64_t bytes : in.bucket_bytes) {
    if (bytes == 0) continue;  // a bucket of no bytes issues no collective
    written += double(bytes);
    const double ready = in.backward_seconds * written / total;
    const double t = ring_all_reduce_seconds(bytes, gpus, tier);
    s.last_end = std::max(ready, s.last_end) + t;
    s.busy += t;
  }
  return s;
}

std::string ms(double seconds) { return fmt::format("{:.2f} ms", seconds * 1e3); }

std::string tier_line(const std::string& name, const LinkTier& t) {
  return fmt::format("{}: busbw {:.1f} GB/s ({}); {:.2f} us per ring step ({})", name, t.busbw_gbs, t.busbw_source,
                     t.latency_seconds * 1e6, t.latency_source);
}

nlohmann::ordered_json tier_json(const LinkTier& t) {
  return {{"busbw_gbs", t.busbw_gbs},
          {"busbw_source", t.busbw_source},
          {"latency_us_per_ring_step", t.latency_seconds * 1e6},
          {"latency_source", t.latency_source}};
}

nlohmann::ordered_json load_json(const std::string& path) {
  std::ifstream in(path);
  ASLNET_CHECK(in.good()) << "--allreduce-json " << path
                          << ": cannot open (write it with aslnet bench allreduce --json)";
  try {
    return nlohmann::ordered_json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    ASLNET_CHECK(false) << "--allreduce-json " << path << ": not JSON: " << e.what();
  }
  return {};
}

}  // namespace

LinkModel assumed_link_model() {
  LinkModel link;
  link.intra_node = assumed_intra_node();
  link.inter_node = assumed_inter_node();
  return link;
}

double ring_all_reduce_seconds(int64_t bytes, int gpus, const LinkTier& tier) {
  if (gpus <= 1 || bytes <= 0) return 0.0;
  ASLNET_CHECK(tier.busbw_gbs > 0) << "scaling model: a link's busbw must be positive";
  const double steps = 2.0 * (gpus - 1);
  return steps / gpus * double(bytes) / (tier.busbw_gbs * 1e9) + steps * tier.latency_seconds;
}

std::vector<ScalingPoint> predict_scaling(const ScalingInputs& in, const std::vector<int>& gpu_counts) {
  check_inputs(in);
  const double forward = in.forward_backward_seconds - in.backward_seconds;
  const double one_gpu_step = in.forward_backward_seconds + in.optimizer_seconds;
  std::vector<ScalingPoint> out;
  for (int gpus : gpu_counts) {
    ASLNET_CHECK(gpus >= 1) << "scaling model: " << gpus << " GPUs";
    const CommSchedule comm = schedule_buckets(in, gpus);
    ScalingPoint p;
    p.gpus = gpus;
    p.tier = tier_name(in, gpus);
    p.comm_seconds = comm.busy;
    // The optimizer waits for backward and for the last bucket, whichever ends later.
    p.comm_exposed_seconds = std::max(0.0, comm.last_end - in.backward_seconds);
    p.step_seconds = forward + in.backward_seconds + p.comm_exposed_seconds + in.optimizer_seconds;
    p.images_per_second = double(gpus) * double(in.images_per_gpu) / p.step_seconds;
    p.efficiency = one_gpu_step / p.step_seconds;
    out.push_back(p);
  }
  return out;
}

std::vector<int> default_scaling_gpu_counts() { return {1, 2, 4, 8, 16, 32, 64}; }

std::vector<int64_t> gradient_bucket_bytes(const ModelInfo& info, const ReducerOptions& options) {
  auto model = make_model(info);
  auto comms = make_in_process_communicators({Device::cpu()});
  const GradientReducer reducer(*model, *comms[0], options);
  const int64_t element = int64_t(dtype_size(model->gradient_arena().dtype()));
  std::vector<int64_t> out;
  for (const GradientBucket& b : reducer.buckets()) out.push_back(b.count * element);
  return out;
}

LinkTier link_tier_from_allreduce_json(const std::string& path) {
  const auto doc = load_json(path);
  // The largest rank count that ran: within a node, busbw changes little with n, and more ranks mean
  // more ring steps from which to read the latency.
  ASLNET_CHECK(doc.is_object() && doc.contains("counts") && doc["counts"].is_array())
      << "--allreduce-json " << path << ": no \"counts\" list (write it with aslnet bench allreduce --json)";
  const nlohmann::ordered_json* best = nullptr;
  for (const auto& count : doc["counts"]) {
    if (!count.value("run", false) || count.value("ranks", 0) < 2 || !count.contains("rows") || count["rows"].empty())
      continue;
    if (best == nullptr || count["ranks"].get<int>() > (*best)["ranks"].get<int>()) best = &count;
  }
  ASLNET_CHECK(best != nullptr) << "--allreduce-json " << path
                                << ": no all-reduce over 2 or more ranks in it (one rank has no busbw); give "
                                   "--intra-busbw, or measure on a machine with several GPUs";
  const int n = (*best)["ranks"].get<int>();
  const auto& rows = (*best)["rows"];
  const auto peak = std::max_element(rows.begin(), rows.end(), [](const auto& a, const auto& b) {
    return a["busbw_gbs"].template get<double>() < b["busbw_gbs"].template get<double>();
  });
  const auto smallest = std::min_element(rows.begin(), rows.end(), [](const auto& a, const auto& b) {
    return a["bytes"].template get<int64_t>() < b["bytes"].template get<int64_t>();
  });
  const std::string what =
      fmt::format("measured: aslnet bench allreduce, {} ranks ({}) on {}, {}", n, best->value("communicator", "?"),
                  doc.value("device", "?"), doc.value("date", "?"));
  LinkTier t;
  t.busbw_gbs = (*peak)["busbw_gbs"].get<double>();
  t.latency_seconds = (*smallest)["time_s"].get<double>() / (2.0 * (n - 1));
  t.busbw_source = fmt::format("{}: peak, at {} B", what, (*peak)["bytes"].get<int64_t>());
  t.latency_source = fmt::format("measured, same run: the {} B all-reduce's time over 2(n-1) steps",
                                 (*smallest)["bytes"].get<int64_t>());
  ASLNET_CHECK(t.busbw_gbs > 0) << "--allreduce-json " << path << ": its peak busbw is not positive";
  return t;
}

void add_scaling_flags(CLI::App& cmd, ScalingFlags& flags) {
  cmd.add_option("--allreduce-json", flags.allreduce_json,
                 "scaling model: intra-node busbw and latency measured by `aslnet bench allreduce --json` "
                 "(instead of the assumed NVLink figures)");
  cmd.add_option("--intra-busbw", flags.intra_busbw_gbs, "scaling model: all-reduce busbw within a node, GB/s")
      ->check(app::positive());
  cmd.add_option("--intra-latency-us", flags.intra_latency_us, "scaling model: latency per ring step within a node")
      ->check(app::non_negative());
  cmd.add_option("--inter-busbw", flags.inter_busbw_gbs, "scaling model: all-reduce busbw across nodes, GB/s")
      ->check(app::positive());
  cmd.add_option("--inter-latency-us", flags.inter_latency_us, "scaling model: latency per ring step across nodes")
      ->check(app::non_negative());
  cmd.add_option("--gpus-per-node", flags.gpus_per_node, "scaling model: GPUs a node holds (default 8)")
      ->check(app::positive());
}

LinkModel link_model_from_flags(const ScalingFlags& f) {
  LinkModel link = assumed_link_model();
  link.gpus_per_node = f.gpus_per_node;
  if (!f.allreduce_json.empty()) link.intra_node = link_tier_from_allreduce_json(f.allreduce_json);
  auto given = [](double value, double& figure, std::string& source, const char* flag, double scale) {
    if (value < 0) return;
    figure = value * scale;
    source = fmt::format("given: {} {}", flag, value);
  };
  given(f.intra_busbw_gbs, link.intra_node.busbw_gbs, link.intra_node.busbw_source, "--intra-busbw", 1.0);
  given(f.intra_latency_us, link.intra_node.latency_seconds, link.intra_node.latency_source, "--intra-latency-us",
        1e-6);
  given(f.inter_busbw_gbs, link.inter_node.busbw_gbs, link.inter_node.busbw_source, "--inter-busbw", 1.0);
  given(f.inter_latency_us, link.inter_node.latency_seconds, link.inter_node.latency_source, "--inter-latency-us",
        1e-6);
  return link;
}

std::string format_scaling(const ScalingInputs& in, const std::vector<ScalingPoint>& points) {
  const int64_t total = std::accumulate(in.bucket_bytes.begin(), in.bucket_bytes.end(), int64_t(0));
  const int64_t largest =
      in.bucket_bytes.empty() ? 0 : *std::max_element(in.bucket_bytes.begin(), in.bucket_bytes.end());
  std::string out = "scaling model: predicted, not measured (docs/scaling-model.md)\n";
  out += fmt::format("  one GPU, measured: step {} = forward+backward {} (backward {}) + optimizer {}, {} images\n",
                     ms(in.forward_backward_seconds + in.optimizer_seconds), ms(in.forward_backward_seconds),
                     ms(in.backward_seconds), ms(in.optimizer_seconds), in.images_per_gpu);
  out += fmt::format("  gradient buckets: {}, {:.1f} MiB in all (first {:.2f} MiB, largest {:.2f} MiB)\n",
                     in.bucket_bytes.size(), double(total) / kMiB,
                     in.bucket_bytes.empty() ? 0.0 : double(in.bucket_bytes[0]) / kMiB, double(largest) / kMiB);
  const int node = in.link.gpus_per_node;
  out += "  " + tier_line(fmt::format("within a node (2-{} GPUs)", node), in.link.intra_node) + "\n";
  out += "  " + tier_line(fmt::format("across nodes (more than {} GPUs)", node), in.link.inter_node) + "\n";
  out += fmt::format("{:>6}  {:<14} {:>10} {:>14} {:>11} {:>10} {:>11}\n", "gpus", "tier", "step ms", "all-reduce ms",
                     "exposed ms", "images/s", "efficiency");
  for (const ScalingPoint& p : points)
    out += fmt::format("{:>6}  {:<14} {:>10.2f} {:>14.2f} {:>11.2f} {:>10.0f} {:>10.1f}%\n", p.gpus, p.tier,
                       p.step_seconds * 1e3, p.comm_seconds * 1e3, p.comm_exposed_seconds * 1e3, p.images_per_second,
                       100.0 * p.efficiency);
  return out;
}

nlohmann::ordered_json scaling_json(const ScalingInputs& in, const std::vector<ScalingPoint>& points) {
  nlohmann::ordered_json rows = nlohmann::ordered_json::array();
  for (const ScalingPoint& p : points)
    rows.push_back({{"gpus", p.gpus},
                    {"tier", p.tier},
                    {"step_seconds", p.step_seconds},
                    {"images_per_second", p.images_per_second},
                    {"efficiency", p.efficiency},
                    {"comm_seconds", p.comm_seconds},
                    {"comm_exposed_seconds", p.comm_exposed_seconds}});
  return {{"kind", "model (predicted, not measured): docs/scaling-model.md"},
          {"forward_backward_seconds", in.forward_backward_seconds},
          {"backward_seconds", in.backward_seconds},
          {"optimizer_seconds", in.optimizer_seconds},
          {"images_per_gpu", in.images_per_gpu},
          {"bucket_bytes", in.bucket_bytes},
          {"gpus_per_node", in.link.gpus_per_node},
          {"intra_node", tier_json(in.link.intra_node)},
          {"inter_node", tier_json(in.link.inter_node)},
          {"points", rows}};
}

}  // namespace aslnet::bench
