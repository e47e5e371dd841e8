// A model of data-parallel scaling beyond the machine at hand: predicted images/s for 1 to 64 GPUs from
// a measured single-GPU step, the gradient buckets the reducer would issue, and a two-tier link model.
// It is a model, not a measurement: link figures it cannot measure here are assumptions with their
// sources, and every output says which figures were assumed. docs/scaling-model.md explains it.
//
// The step on n GPUs (weak scaling: each GPU keeps the measured per-GPU batch):
//   forward, then backward; backward produces the gradients evenly in arena order, so bucket i is ready
//   once backward has written the bytes of buckets 0..i. Buckets go out in that order, one after the
//   other on the communication stream: bucket i starts at max(its ready time, the end of bucket i-1)
//   and takes a ring all-reduce's time,
//       2(n-1)/n * bytes / busbw + 2(n-1) * latency,
//   with busbw and latency of the tier: within a node (n <= gpus_per_node) or across nodes. The
//   optimizer starts when both backward and the last bucket's all-reduce are done:
//       step(n) = forward + backward + exposed(n) + optimizer,
//       exposed(n) = max(0, end of the last all-reduce - end of backward).
// One GPU issues no collectives: step(1) is the measured step.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/replication/gradient_reducer.h"
#include "models/resnet.h"

namespace aslnet::bench {

// One tier of links, as nccl-tests would report it for a large all-reduce.
struct LinkTier {
  double busbw_gbs = 0;        // bus bandwidth, GB/s (1e9 bytes/s)
  double latency_seconds = 0;  // per ring step (a ring all-reduce has 2(n-1) steps)
  // Where each figure comes from: "assumed: ...", "measured: ..." or "given: --flag".
  std::string busbw_source, latency_source;
};

struct LinkModel {
  int gpus_per_node = 8;
  LinkTier intra_node;  // n <= gpus_per_node: NVLink/NVSwitch on an 8x H100 SXM node, by default
  LinkTier inter_node;  // n > gpus_per_node: one InfiniBand NDR NIC per GPU, by default
};
// The cited assumptions (docs/scaling-model.md gives the sources): intra-node busbw 450 GB/s and
// 3.4 us per ring step; inter-node busbw 40 GB/s and 9.6 us per ring step.
LinkModel assumed_link_model();

struct ScalingInputs {
  // Measured on one GPU, at images_per_gpu images per step.
  double forward_backward_seconds = 0;  // forward + loss + backward
  double backward_seconds = 0;          // the backward part of it (buckets become ready during it)
  double optimizer_seconds = 0;
  int64_t images_per_gpu = 0;
  // The gradient all-reduce buckets, in the order the reducer issues them (gradient_bucket_bytes).
  std::vector<int64_t> bucket_bytes;
  LinkModel link = assumed_link_model();
};

struct ScalingPoint {
  int gpus = 1;
  double step_seconds = 0;
  double images_per_second = 0;
  double efficiency = 1;            // images/s over gpus x the one-GPU images/s
  double comm_exposed_seconds = 0;  // all-reduce time not hidden behind backward
  double comm_seconds = 0;          // all all-reduces of a step end to end (hidden or not)
  std::string tier;                 // "one GPU", "within a node", "across nodes"
};

// The time of one ring all-reduce of `bytes` over `gpus` GPUs on `tier` (0 for one GPU or no bytes).
double ring_all_reduce_seconds(int64_t bytes, int gpus, const LinkTier& tier);
// The prediction for each GPU count (each >= 1), in the order given.
std::vector<ScalingPoint> predict_scaling(const ScalingInputs& inputs, const std::vector<int>& gpu_counts);
// 1, 2, 4, ..., 64.
std::vector<int> default_scaling_gpu_counts();

// The bytes of each bucket GradientReducer cuts for this network, in issue order: it builds the model
// on the CPU (the gradient arena is fp32 in every precision) and a reducer over a one-rank in-process
// communicator, and reads its buckets.
std::vector<int64_t> gradient_bucket_bytes(const ModelInfo& info, const ReducerOptions& options = {});

// A measured intra-node tier from `aslnet bench allreduce --json FILE`: of the largest rank count that
// ran (at least 2), busbw is the peak busbw of its rows and the per-step latency is its smallest
// message's time over 2(n-1) steps.
LinkTier link_tier_from_allreduce_json(const std::string& path);

// Command-line flags for the model, for the commands that print it (`aslnet bench train`). A flag
// given overrides --allreduce-json, which overrides the assumption.
struct ScalingFlags {
  std::string allreduce_json;
  double intra_busbw_gbs = -1, intra_latency_us = -1;  // negative: not given
  double inter_busbw_gbs = -1, inter_latency_us = -1;
  int gpus_per_node = 8;
};
void add_scaling_flags(CLI::App& cmd, ScalingFlags& flags);
LinkModel link_model_from_flags(const ScalingFlags& flags);

// The prediction as text (the inputs, each link figure with its source, then one row per GPU count)
// and as JSON (the same, for results files).
std::string format_scaling(const ScalingInputs& inputs, const std::vector<ScalingPoint>& points);
nlohmann::ordered_json scaling_json(const ScalingInputs& inputs, const std::vector<ScalingPoint>& points);

}  // namespace aslnet::bench
