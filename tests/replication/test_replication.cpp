// Data-parallel training on the CPU with the in-process communicator (replicas on threads): the
// collectives' arithmetic and watchdog, the reducer's buckets and their overlap with backward, and
// the must-have equivalences: N replicas on their shards end with the weights of one replica on the
// whole batch (frozen batch norm) or of a serial run with the same per-shard statistics.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <sstream>
#include <thread>

#include "engine/replication/gradient_reducer.h"
#include "engine/replication/in_process.h"
#include "engine/replication/replica_threads.h"
#include "engine/loss.h"
#include "models/resnet.h"
#include "tests/replication/failing_replica.h"
#include "tests/replication/harness.h"
#include "tests/test_util.h"

namespace aslnet {
namespace {

std::vector<std::unique_ptr<Communicator>> cpu_group(int n, double timeout_seconds = 60.0) {
  return make_in_process_communicators(std::vector<Device>(size_t(n), Device::cpu()), {timeout_seconds});
}

// Wraps a communicator and stamps each all-reduce start with a shared sequence counter.
class CountingCommunicator : public Communicator {
 public:
  CountingCommunicator(Communicator& inner, std::atomic<int64_t>& clock) : inner_(inner), clock_(clock) {}
  int rank() const override { return inner_.rank(); }
  int size() const override { return inner_.size(); }
  std::string name() const override { return "counting " + inner_.name(); }
  void start_all_reduce_average(const Tensor& buffer, cudaStream_t stream) override {
    starts.push_back(clock_++);
    offsets.push_back(buffer.raw());
    inner_.start_all_reduce_average(buffer, stream);
  }
  void finish(cudaStream_t stream) override { inner_.finish(stream); }
  void broadcast(const Tensor& buffer, int root, cudaStream_t stream) override { inner_.broadcast(buffer, root, stream); }
  void all_reduce_sum_host(std::vector<double>& values) override { inner_.all_reduce_sum_host(values); }
  void synchronize(cudaStream_t stream) override { inner_.synchronize(stream); }
  void abort(const std::string& why) noexcept override { inner_.abort(why); }

  std::vector<int64_t> starts;
  std::vector<const void*> offsets;

 private:
  Communicator& inner_;
  std::atomic<int64_t>& clock_;
};

TEST(InProcessCommunicator, AveragesInRankOrderBroadcastsAndSums) {
  const int n = 3;
  auto comms = cpu_group(n);
  std::vector<Tensor> inputs(n), buffers(n), copies(n);
  std::vector<std::vector<double>> sums(n);
  Rng rng(test::fresh_seed());
  for (int r = 0; r < n; ++r) {
    inputs[size_t(r)] = test::random_f32(Shape{1000}, rng);
    buffers[size_t(r)] = inputs[size_t(r)].clone();
    copies[size_t(r)] = test::random_f32(Shape{10}, rng);
  }
  const Tensor root = copies[1].clone();
  run_replica_threads(comms, [&](int r) {
    comms[size_t(r)]->all_reduce_average(buffers[size_t(r)], nullptr);
    comms[size_t(r)]->broadcast(copies[size_t(r)], 1, nullptr);
    sums[size_t(r)] = {double(r), 1.0};
    comms[size_t(r)]->all_reduce_sum_host(sums[size_t(r)]);
  });
  for (int i = 0; i < 1000; ++i) {
    float expected = 0.0f;
    for (int r = 0; r < n; ++r) expected += inputs[size_t(r)].data<float>()[i];
    expected *= 1.0f / float(n);
    for (int r = 0; r < n; ++r) ASSERT_EQ(buffers[size_t(r)].data<float>()[i], expected) << "element " << i;
  }
  for (int r = 0; r < n; ++r) {
    EXPECT_EQ(std::memcmp(copies[size_t(r)].raw(), root.raw(), root.bytes()), 0) << "replica " << r;
    EXPECT_EQ(sums[size_t(r)], (std::vector<double>{3.0, 3.0}));
  }
}

TEST(InProcessCommunicator, CollectivesThatDifferBetweenReplicasAreNamed) {
  auto comms = cpu_group(2);
  try {
    run_replica_threads(comms, [&](int r) {
      Tensor t = Tensor::zeros(Shape{4}, DType::F32);
      if (r == 0) comms[0]->all_reduce_average(t, nullptr);
      else comms[1]->broadcast(t, 0, nullptr);
    });
    FAIL() << "no error";
  } catch (const PeerFailure& e) {
    EXPECT_NE(std::string(e.what()).find("differs between replicas"), std::string::npos) << e.what();
  }
}

TEST(InProcessCommunicator, WatchdogNamesTheReplicaThatNeverArrived) {
  test::expect_the_watchdog_to_name_a_replica_that_never_arrived(cpu_group(3, 0.3));
}

TEST(ReplicaThreads, AFailingReplicaStopsTheOthersAtOnceWithItsReason) {
  // The watchdog (600 s) must not be what ends this.
  test::expect_a_failing_replica_to_stop_the_others(cpu_group(4, 600.0), 16);
}

TEST(GradientReducer, BucketsTileTheArenaFromTheClassifierWithASmallFirstBucket) {
  auto model = make_resnet({"resnet18", "imagenet", 1.0, 29, 3});
  auto comms = cpu_group(1);
  GradientReducer reducer(*model, *comms[0]);
  const auto& buckets = reducer.buckets();
  ASSERT_GE(buckets.size(), 3u);
  int64_t at = 0;
  int params = 0;
  for (size_t b = 0; b < buckets.size(); ++b) {
    EXPECT_EQ(buckets[b].offset, at) << "bucket " << b;
    at += buckets[b].count;
    params += buckets[b].parameters;
    const int64_t cap = b == 0 ? (1 << 20) : (25 << 20);
    if (buckets[b].parameters > 1) {
      EXPECT_LE(buckets[b].count * 4, cap) << "bucket " << b;
    }
  }
  EXPECT_EQ(at, model->gradient_arena().numel());
  EXPECT_EQ(params, int(model->parameters().size()));
  // The classifier (finished first by backward) opens the arena, in the first bucket.
  EXPECT_EQ(model->find_parameter("fc.bias")->grad.raw(), model->gradient_arena().raw());
  const int64_t fc_weight = model->find_parameter("fc.weight")->grad.data<float>() - model->gradient_arena().data<float>();
  EXPECT_LT(fc_weight, buckets[0].count);
}

TEST(GradientReducer, AllReducesStartDuringBackwardInBucketOrder) {
  // resnet18 at full width with the default 1 MB + 25 MB buckets, on tiny images to keep it cheap.
  const int n = 2;
  auto comms = cpu_group(n);
  std::atomic<int64_t> clock{0};
  std::vector<std::vector<int64_t>> starts(n), layer_ends(n);
  std::vector<size_t> bucket_count(n);
  std::vector<Tensor> grads(n);
  run_replica_threads(comms, [&](int r) {
    Context ctx(Device::cpu(), 0);
    auto model = make_resnet({"resnet18", "small", 1.0, 29, 3});
    Rng rng{uint64_t(r)};
    init_torchvision(*model, rng);
    model->setup(ctx, 2, 4, 4);
    CountingCommunicator counting(*comms[size_t(r)], clock);
    GradientReducer reducer(*model, counting);
    // Stamp the end of every layer's backward that writes parameter gradients on the same clock (the
    // hook fires for exactly those layers).
    model->set_backward_hook([&](std::span<Parameter* const> finished) {
      layer_ends[size_t(r)].push_back(clock++);
      reducer.gradients_finished(finished);
    });
    Tensor x = test::random_f32(Shape{2, 4, 4, 3}, rng);
    Tensor labels = Tensor::zeros(Shape{2}, DType::I32);
    CrossEntropyLoss loss;
    loss.forward_backward(ctx, model->forward(ctx, x, true), labels);
    reducer.begin_backward(ctx, true);
    model->backward(ctx, loss.dlogits());
    reducer.finish(ctx);
    starts[size_t(r)] = counting.starts;
    bucket_count[size_t(r)] = reducer.buckets().size();
    grads[size_t(r)] = model->gradient_arena().clone();
    for (size_t b = 1; b < counting.offsets.size(); ++b)
      EXPECT_GT(counting.offsets[b], counting.offsets[b - 1]) << "buckets out of arena order";
  });
  for (int r = 0; r < n; ++r) {
    SCOPED_TRACE("replica " + std::to_string(r));
    const auto& s = starts[size_t(r)];
    const auto& ends = layer_ends[size_t(r)];
    ASSERT_EQ(s.size(), bucket_count[size_t(r)]);
    ASSERT_GE(s.size(), 3u);
    // Every bucket but the last (which holds the stem, finished last) starts while layers are still
    // running their backward; the first starts before most of them.
    for (size_t b = 0; b + 1 < s.size(); ++b) EXPECT_LT(s[b], ends.back()) << "bucket " << b << " waited for backward";
    int64_t after_first = 0;
    for (int64_t e : ends) after_first += e > s[0];
    EXPECT_GT(after_first, int64_t(ends.size()) * 3 / 4) << "the first bucket started late";
  }
  EXPECT_EQ(std::memcmp(grads[0].raw(), grads[1].raw(), grads[0].bytes()), 0) << "replicas' averages differ";
}

// Trains n replicas on their shards and compares their weights with `reference`. Returns how many
// all-reduces replica 0 started.
size_t expect_replicas_match(const test::ReplicationCase& c, int n, const Tensor& reference) {
  auto comms = cpu_group(n);
  std::atomic<int64_t> clock{0};
  std::vector<Tensor> weights(static_cast<size_t>(n));
  size_t all_reduces = 0;
  run_replica_threads(comms, [&](int r) {
    CountingCommunicator counting(*comms[size_t(r)], clock);
    weights[size_t(r)] = test::train_replica(c, counting);
    if (r == 0) all_reduces = counting.starts.size();
  });
  for (int r = 0; r < n; ++r) {
    const double err = test::relative_error(weights[size_t(r)], reference);
    std::ostringstream text;
    text << err;
    ::testing::Test::RecordProperty("relative_error_" + std::to_string(n) + "_replicas", text.str());
    EXPECT_LE(err, 1e-5) << n << " replicas, replica " << r << ": " << err;
    EXPECT_EQ(std::memcmp(weights[size_t(r)].raw(), weights[0].raw(), reference.bytes()), 0)
        << "replica " << r << " differs from replica 0";
  }
  // The weights moved: the comparison is not of untouched initial values.
  EXPECT_GT(test::relative_error(reference, test::initial_weights(c)), 1e-3);
  return all_reduces;
}

TEST(Replication, FrozenBatchNormReplicasMatchOneReplicaOnTheWholeBatch) {
  const test::ReplicationCase c;  // frozen batch norm
  const Tensor whole = test::train_serial(c, 1);
  for (int n : {2, 4}) expect_replicas_match(c, n, whole);
}

TEST(Replication, TrainingBatchNormReplicasMatchASerialRunWithPerShardStatistics) {
  test::ReplicationCase c;
  c.freeze_batch_norm = false;
  for (int n : {2, 4}) expect_replicas_match(c, n, test::train_serial(c, n));
}

TEST(Replication, AccumulationAllReducesOnlyOnTheLastMicroBatch) {
  test::ReplicationCase c;
  c.freeze_batch_norm = false;
  c.accum_steps = 2;
  const size_t all_reduces = expect_replicas_match(c, 2, test::train_serial(c, 2));
  EXPECT_EQ(all_reduces, size_t(c.steps) * test::replica_bucket_count(c)) << "accumulation micro-batches all-reduced";
}

// --sync-bn: n replicas, each with its reducer and a SyncBatchNorm, on their shards. Returns each
// replica's final weights and running statistics, and how many all-reduces replica 0 started.
struct SyncedRun {
  std::vector<Tensor> weights, state;
  size_t all_reduces = 0;
};
SyncedRun train_replicas(const test::ReplicationCase& c, int n) {
  auto comms = cpu_group(n);
  std::atomic<int64_t> clock{0};
  SyncedRun run;
  run.weights.resize(size_t(n));
  run.state.resize(size_t(n));
  run_replica_threads(comms, [&](int r) {
    CountingCommunicator counting(*comms[size_t(r)], clock);
    run.weights[size_t(r)] = test::train_replica(c, counting, &run.state[size_t(r)]);
    if (r == 0) run.all_reduces = counting.starts.size();
  });
  return run;
}

// The batch-norm layers of the case's ResNet (two running statistics each).
size_t batch_norm_layers(const test::ReplicationCase& c) {
  return make_resnet({"resnet18", "small", 0.125, c.classes, 3})->state().size() / 2;
}

// The must-have of --sync-bn: with training-mode batch norm, replicas that synchronise it end with the
// weights and the running statistics of one replica on the whole batch; without it they measurably do
// not (each normalises its own shard), so the comparison can fail.
void expect_synced_replicas_match_whole_batch(const test::ReplicationCase& c, std::vector<int> replica_counts) {
  ASSERT_TRUE(c.sync_bn && !c.freeze_batch_norm);
  Tensor whole_state;
  const Tensor whole = test::train_serial(c, 1, &whole_state);
  const size_t bn_layers = batch_norm_layers(c);
  ASSERT_GT(bn_layers, 0u);
  for (int n : replica_counts) {
    SCOPED_TRACE(std::to_string(n) + " replicas");
    const SyncedRun run = train_replicas(c, n);
    for (int r = 0; r < n; ++r) {
      const double err = test::relative_error(run.weights[size_t(r)], whole);
      const double state_err = test::relative_error(run.state[size_t(r)], whole_state);
      std::ostringstream text;
      text << err << " (running statistics " << state_err << ")";
      ::testing::Test::RecordProperty("sync_bn_relative_error_" + std::to_string(n) + "_replicas", text.str());
      EXPECT_LE(err, 1e-5) << "weights, replica " << r;
      EXPECT_LE(state_err, 1e-5) << "running statistics, replica " << r;
      EXPECT_TRUE(test::same_bytes(run.weights[size_t(r)], run.weights[0])) << "replica " << r << " weights";
      EXPECT_TRUE(test::same_bytes(run.state[size_t(r)], run.state[0])) << "replica " << r << " running statistics";
    }
    // Per step: the gradient buckets once, and per micro-batch two all-reduces per batch-norm layer.
    EXPECT_EQ(run.all_reduces,
              size_t(c.steps) * (test::replica_bucket_count(c) + 2 * bn_layers * size_t(c.accum_steps)));
  }
  EXPECT_GT(test::relative_error(whole, test::initial_weights(c)), 1e-3) << "the weights did not move";
  // The same replicas without --sync-bn: per-shard statistics, measurably off the whole batch.
  test::ReplicationCase plain = c;
  plain.sync_bn = false;
  const SyncedRun unsynced = train_replicas(plain, replica_counts[0]);
  EXPECT_GT(test::relative_error(unsynced.weights[0], whole), 1e-4) << "without --sync-bn the weights match anyway";
  EXPECT_GT(test::relative_error(unsynced.state[0], whole_state), 1e-4) << "without --sync-bn the statistics match";
}

TEST(Replication, SyncBatchNormReplicasMatchOneReplicaOnTheWholeBatch) {
  test::ReplicationCase c;
  c.freeze_batch_norm = false;
  c.sync_bn = true;
  expect_synced_replicas_match_whole_batch(c, {2, 4});
}

TEST(Replication, SyncBatchNormSynchronisesEveryAccumulationMicroBatch) {
  test::ReplicationCase c;
  c.freeze_batch_norm = false;
  c.sync_bn = true;
  c.accum_steps = 2;  // one replica on the whole batch accumulates the same two micro-batches
  expect_synced_replicas_match_whole_batch(c, {2});
}

TEST(Replication, SyncBatchNormDoesNothingWithFrozenBatchNormOrOneReplica) {
  test::ReplicationCase c;  // frozen batch norm
  c.sync_bn = true;
  test::ReplicationCase plain = c;
  plain.sync_bn = false;
  const SyncedRun synced = train_replicas(c, 2), unsynced = train_replicas(plain, 2);
  EXPECT_TRUE(test::same_bytes(synced.weights[0], unsynced.weights[0]));
  EXPECT_TRUE(test::same_bytes(synced.state[0], unsynced.state[0]));
  EXPECT_EQ(synced.all_reduces, size_t(c.steps) * test::replica_bucket_count(c)) << "frozen batch norm synchronised";
  // One replica: nothing to synchronise, nothing installed (bit for bit the plain run).
  test::ReplicationCase training = c;
  training.freeze_batch_norm = false;
  test::ReplicationCase training_plain = training;
  training_plain.sync_bn = false;
  const SyncedRun one = train_replicas(training, 1), one_plain = train_replicas(training_plain, 1);
  EXPECT_TRUE(test::same_bytes(one.weights[0], one_plain.weights[0]));
  EXPECT_TRUE(test::same_bytes(one.state[0], one_plain.state[0]));
}

}  // namespace
}  // namespace aslnet
