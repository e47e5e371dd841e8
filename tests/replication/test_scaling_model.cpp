// The scaling model of bench/scaling/scaling_model.h: one GPU is the measured step; within a tier, efficiency
// never rises with the GPU count; buckets with no bytes scale perfectly; on a slow link the exposed time
// is the all-reduce time less the backward it can overlap; the buckets are the reducer's; measured and
// given link figures replace the assumed ones.
#include <gtest/gtest.h>

#include <fstream>
#include <numeric>

#include "bench/scaling/scaling_model.h"
#include "tests/test_util.h"

namespace aslnet::bench {
namespace {

// A resnet50-like step (H100, bf16, batch 256: about 62 ms) with buckets of the reducer's shape: a
// small first one, then full ones, then the remainder.
ScalingInputs example_inputs() {
  ScalingInputs in;
  in.forward_backward_seconds = 0.058;
  in.backward_seconds = 0.038;
  in.optimizer_seconds = 0.004;
  in.images_per_gpu = 256;
  in.bucket_bytes = {1 << 20, 25 << 20, 25 << 20, 25 << 20, 18 << 20};
  return in;
}

std::vector<int> counts(int from, int to) {
  std::vector<int> out(size_t(to - from + 1));
  std::iota(out.begin(), out.end(), from);
  return out;
}

TEST(ScalingModel, RingAllReduceTime) {
  const LinkTier tier{100.0, 5e-6, "test", "test"};
  // 2(n-1)/n * B / busbw + 2(n-1) * latency
  EXPECT_DOUBLE_EQ(ring_all_reduce_seconds(1'000'000'000, 4, tier), 1.5 * 1e9 / 100e9 + 6 * 5e-6);
  EXPECT_EQ(ring_all_reduce_seconds(1 << 20, 1, tier), 0.0);  // one GPU talks to nobody
  EXPECT_EQ(ring_all_reduce_seconds(0, 8, tier), 0.0);        // no bytes, no collective
}

TEST(ScalingModel, OneGpuIsTheMeasuredStep) {
  const ScalingInputs in = example_inputs();
  const auto points = predict_scaling(in, {1});
  ASSERT_EQ(points.size(), 1u);
  const double step = in.forward_backward_seconds + in.optimizer_seconds;
  EXPECT_DOUBLE_EQ(points[0].step_seconds, step);
  EXPECT_DOUBLE_EQ(points[0].images_per_second, 256 / step);
  EXPECT_DOUBLE_EQ(points[0].efficiency, 1.0);
  EXPECT_EQ(points[0].comm_exposed_seconds, 0.0);
  EXPECT_EQ(points[0].comm_seconds, 0.0);
  EXPECT_EQ(points[0].tier, "one GPU");
}

TEST(ScalingModel, EfficiencyNeverRisesWithinATier) {
  ScalingInputs in = example_inputs();
  // Slow enough links that communication shows at every count.
  in.link.intra_node.busbw_gbs = 20;
  in.link.inter_node.busbw_gbs = 5;
  for (const auto& [from, to] : {std::pair{1, 8}, std::pair{9, 64}}) {
    const auto points = predict_scaling(in, counts(from, to));
    for (size_t i = 1; i < points.size(); ++i) {
      EXPECT_LE(points[i].efficiency, points[i - 1].efficiency + 1e-12) << points[i].gpus << " GPUs";
      EXPECT_GE(points[i].comm_exposed_seconds, points[i - 1].comm_exposed_seconds - 1e-12) << points[i].gpus;
      EXPECT_EQ(points[i].tier, to == 8 ? "within a node" : "across nodes");
    }
  }
  // Leaving the node costs: 16 GPUs over InfiniBand scale worse than 8 over NVLink.
  const auto points = predict_scaling(in, {8, 16});
  EXPECT_LT(points[1].efficiency, points[0].efficiency);
}

TEST(ScalingModel, BucketsWithoutBytesScalePerfectly) {
  for (const std::vector<int64_t>& buckets : {std::vector<int64_t>{}, std::vector<int64_t>{0, 0, 0}}) {
    ScalingInputs in = example_inputs();
    in.bucket_bytes = buckets;
    const auto points = predict_scaling(in, default_scaling_gpu_counts());
    for (const ScalingPoint& p : points) {
      EXPECT_DOUBLE_EQ(p.efficiency, 1.0) << p.gpus << " GPUs";
      EXPECT_DOUBLE_EQ(p.images_per_second, p.gpus * points[0].images_per_second) << p.gpus;
      EXPECT_EQ(p.comm_exposed_seconds, 0.0);
    }
  }
}

TEST(ScalingModel, SlowLinkExposesTheCommunicationLessTheOverlappableBackward) {
  ScalingInputs in = example_inputs();
  in.link.intra_node.busbw_gbs = 0.01;  // even the small first bucket's all-reduce outlasts backward
  const int gpus = 4;
  const auto p = predict_scaling(in, {gpus})[0];
  double comm = 0;
  for (int64_t b : in.bucket_bytes) comm += ring_all_reduce_seconds(b, gpus, in.link.intra_node);
  // The link is busy from the first bucket's ready time on: what backward has left after that overlaps.
  const double total = double(std::accumulate(in.bucket_bytes.begin(), in.bucket_bytes.end(), int64_t(0)));
  const double first_ready = in.backward_seconds * double(in.bucket_bytes[0]) / total;
  const double overlappable = in.backward_seconds - first_ready;
  EXPECT_NEAR(p.comm_seconds, comm, 1e-12);
  EXPECT_NEAR(p.comm_exposed_seconds, comm - overlappable, 1e-9);
  EXPECT_NEAR(p.step_seconds, in.forward_backward_seconds + in.optimizer_seconds + comm - overlappable, 1e-9);
}

TEST(ScalingModel, FastLinkExposesOnlyTheLastBucket) {
  // The last bucket is ready only when backward ends: its all-reduce is never hidden.
  ScalingInputs in = example_inputs();
  in.link.intra_node = {1e4, 0.0, "test", "test"};
  const auto p = predict_scaling(in, {8})[0];
  EXPECT_NEAR(p.comm_exposed_seconds, ring_all_reduce_seconds(in.bucket_bytes.back(), 8, in.link.intra_node), 1e-12);
}

TEST(ScalingModel, BucketsAreTheReducers) {
  const ModelInfo info{"resnet18", "imagenet", 1.0, 29, 3};
  const auto buckets = gradient_bucket_bytes(info);
  auto model = make_model(info);
  ASSERT_GT(buckets.size(), 2u);
  EXPECT_EQ(std::accumulate(buckets.begin(), buckets.end(), int64_t(0)),
            int64_t(model->gradient_arena().numel()) * 4);  // they tile the fp32 arena
  EXPECT_LE(buckets[0], 1 << 20);                           // DDP's small first bucket
  for (int64_t b : buckets) EXPECT_GT(b, 0);
  // Smaller caps cut more buckets.
  EXPECT_GT(gradient_bucket_bytes(info, {.bucket_bytes = 4 << 20, .first_bucket_bytes = 1 << 20}).size(),
            buckets.size());
}

TEST(ScalingModel, MeasuredAndGivenLinksReplaceTheAssumptions) {
  test::TempDir dir;
  ASSERT_FALSE(dir.path.empty());
  const std::string path = (dir.path / "allreduce.json").string();
  std::ofstream(path) << R"json({"device": "NVIDIA H100 80GB HBM3", "date": "2026-11-22T00:00:00Z", "counts": [
      {"ranks": 1, "run": true, "communicator": "nccl", "rows": [{"bytes": 8, "time_s": 1e-5, "busbw_gbs": 0}]},
      {"ranks": 4, "run": true, "communicator": "nccl", "rows": [
        {"bytes": 8, "time_s": 1.2e-5, "algbw_gbs": 0.0007, "busbw_gbs": 0.001},
        {"bytes": 1073741824, "time_s": 0.005, "algbw_gbs": 214.7, "busbw_gbs": 322.1},
        {"bytes": 536870912, "time_s": 0.0026, "algbw_gbs": 206.5, "busbw_gbs": 309.7}]},
      {"ranks": 8, "run": false, "note": "not run (this machine has 4 GPUs)"}]})json";
  const LinkTier t = link_tier_from_allreduce_json(path);
  EXPECT_DOUBLE_EQ(t.busbw_gbs, 322.1);               // the peak of the largest count that ran
  EXPECT_DOUBLE_EQ(t.latency_seconds, 1.2e-5 / 6.0);  // the smallest message over 2(n-1) steps
  EXPECT_EQ(t.busbw_source.rfind("measured:", 0), 0u) << t.busbw_source;

  ScalingFlags flags;
  flags.allreduce_json = path;
  flags.inter_busbw_gbs = 25;
  flags.gpus_per_node = 4;
  const LinkModel link = link_model_from_flags(flags);
  EXPECT_DOUBLE_EQ(link.intra_node.busbw_gbs, 322.1);
  EXPECT_DOUBLE_EQ(link.inter_node.busbw_gbs, 25);
  EXPECT_EQ(link.inter_node.busbw_source, "given: --inter-busbw 25");
  EXPECT_EQ(link.inter_node.latency_source.rfind("assumed:", 0), 0u);  // not given: still assumed
  EXPECT_EQ(link.gpus_per_node, 4);

  // One rank has no busbw: the file cannot stand in for a link.
  std::ofstream(path) << R"({"counts": [{"ranks": 1, "run": true, "rows": [{"bytes": 8, "time_s": 1e-5,
      "busbw_gbs": 0}]}]})";
  EXPECT_THROW(link_tier_from_allreduce_json(path), Error);
}

TEST(ScalingModel, OutputLabelsAssumptions) {
  const ScalingInputs in = example_inputs();
  const auto points = predict_scaling(in, default_scaling_gpu_counts());
  const std::string text = format_scaling(in, points);
  EXPECT_NE(text.find("predicted, not measured"), std::string::npos);
  EXPECT_NE(text.find("assumed: NVLink 4"), std::string::npos);
  EXPECT_NE(text.find("assumed: one InfiniBand NDR"), std::string::npos);
  const auto json = scaling_json(in, points);
  EXPECT_EQ(json["points"].size(), 7u);
  EXPECT_EQ(json["points"][6]["gpus"], 64);
  EXPECT_EQ(json["inter_node"]["busbw_source"].get<std::string>().rfind("assumed:", 0), 0u);
}

}  // namespace
}  // namespace aslnet::bench
