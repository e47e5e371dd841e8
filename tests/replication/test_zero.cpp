// ZeRO stage 1 (aslnet train --zero 1; engine/replication/zero_shards.h): the shards tile the arena,
// the new collectives (reduce-scatter average, all-gather) on the communicator's default (the
// in-process group) and on the TCP ring, and the must-haves: replicas with sharded optimizer state reach
// the weights of plain replication (SGD with momentum and AdamW, 2 and 3 replicas, 3 giving buckets
// that do not split evenly), hold bit-identical weights, hold 1/N of the state each, agree on refusing
// a non-finite update, and write checkpoints with the whole state.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <thread>

#include "engine/checkpoint.h"
#include "engine/loss.h"
#include "engine/replication/gradient_reducer.h"
#include "engine/replication/in_process.h"
#include "engine/replication/replica_threads.h"
#include "engine/replication/tcp_communicator.h"
#include "engine/replication/tcp_rendezvous.h"
#include "engine/replication/tcp_ring.h"
#include "engine/replication/tcp_socket.h"
#include "engine/replication/zero_shards.h"
#include "models/resnet.h"
#include "tests/replication/harness.h"
#include "tests/test_util.h"

namespace aslnet {
namespace {

std::vector<std::unique_ptr<Communicator>> cpu_group(int n) {
  return make_in_process_communicators(std::vector<Device>(size_t(n), Device::cpu()), {60.0});
}

TEST(ZeroShards, EveryRanksShardsTileEachBucketInEqualChunksWithTheTailOnTheLastRank) {
  const std::vector<ArenaRange> buckets = {{0, 7}, {7, 2}, {9, 12}, {21, 1000}};
  for (int n : {1, 2, 3, 4}) {
    std::vector<int> owner(1021, -1);
    for (int r = 0; r < n; ++r) {
      const ZeroShards shards(buckets, r, n);
      int64_t total = 0;
      for (const ArenaRange& range : shards.owned()) {
        total += range.count;
        for (int64_t i = range.offset; i < range.offset + range.count; ++i) {
          ASSERT_EQ(owner[size_t(i)], -1) << "value " << i << " owned twice";
          owner[size_t(i)] = r;
        }
      }
      EXPECT_EQ(total, shards.owned_count());
      // Equal chunks: 1/n of each bucket, plus (last rank) fewer than n values of tail per bucket.
      int64_t chunks = 0;
      for (const ArenaRange& b : buckets) chunks += b.count / n;
      EXPECT_EQ(shards.owned_count(), chunks + (r == n - 1 ? 7 % n + 2 % n + 12 % n + 1000 % n : 0)) << n << " ranks";
    }
    for (size_t i = 0; i < owner.size(); ++i) ASSERT_NE(owner[i], -1) << "value " << i << " owned by nobody";
  }
}

// The default collectives (the in-process group uses them): chunk r of the reduce-scatter is the
// all-reduce's average, bit for bit; the all-gather puts each owner's chunk everywhere.
TEST(ZeroCollectives, TheDefaultReduceScatterAndAllGatherOfTheInProcessGroup) {
  for (int n : {2, 3}) {
    auto comms = cpu_group(n);
    const int64_t chunk = 1001;
    std::vector<Tensor> inputs, scattered, reduced, gathered;
    Rng rng(test::fresh_seed());
    for (int r = 0; r < n; ++r) {
      inputs.push_back(test::random_f32(Shape{chunk * n}, rng));
      scattered.push_back(inputs.back().clone());
      reduced.push_back(inputs.back().clone());
      gathered.push_back(Tensor::zeros(Shape{chunk * n}, DType::F32));
      for (int64_t i = 0; i < chunk; ++i) gathered.back().data<float>()[r * chunk + i] = float(r * 10000 + i);
    }
    run_replica_threads(comms, [&](int r) {
      Communicator& c = *comms[size_t(r)];
      c.start_reduce_scatter_average(scattered[size_t(r)], nullptr);
      c.finish(nullptr);
      c.all_reduce_average(reduced[size_t(r)], nullptr);
      c.all_gather(gathered[size_t(r)], nullptr);
    });
    for (int r = 0; r < n; ++r) {
      EXPECT_EQ(std::memcmp(scattered[size_t(r)].data<float>() + r * chunk,
                            reduced[size_t(r)].data<float>() + r * chunk, chunk * sizeof(float)),
                0)
          << n << " ranks, rank " << r;
      for (int owner = 0; owner < n; ++owner)
        for (int64_t i = 0; i < chunk; ++i)
          ASSERT_EQ(gathered[size_t(r)].data<float>()[owner * chunk + i], float(owner * 10000 + i)) << "rank " << r;
    }
  }
}

int free_port() {
  Socket probe = listen_tcp(0);
  return local_port(probe);
}

std::vector<std::string> run_ring(int n, const std::function<void(int, TcpRing&)>& body) {
  const int port = free_port();
  std::vector<std::string> errors(static_cast<size_t>(n));
  std::vector<std::thread> threads;
  for (int r = 0; r < n; ++r)
    threads.emplace_back([&, r] {
      try {
        TcpRing ring(r, n, tcp_rendezvous(r, n, "127.0.0.1", port, 60.0), 60.0);
        body(r, ring);
      } catch (const std::exception& e) {
        errors[size_t(r)] = e.what();
      }
    });
  for (auto& t : threads) t.join();
  return errors;
}

class ZeroTcpRing : public ::testing::TestWithParam<int> {};

// The ring's phases on their own: exact sums (small integers) in each rank's own chunk, all-gathers
// of chunks larger than the sockets' buffers, zero-size chunks, and the communicator's average.
TEST_P(ZeroTcpRing, ReduceScatterSumsEachRanksChunkAndAllGatherCopiesThem) {
  const int n = GetParam();
  const std::vector<int64_t> chunks = {0, 1, 5, 300'001};
  std::vector<std::vector<std::vector<float>>> scattered(static_cast<size_t>(n)), gathered(static_cast<size_t>(n));
  std::vector<std::vector<double>> averaged(static_cast<size_t>(n));
  const auto errors = run_ring(n, [&](int r, TcpRing& ring) {
    for (const int64_t chunk : chunks) {
      std::vector<float> x(size_t(chunk * n));
      for (size_t i = 0; i < x.size(); ++i) x[i] = float((int64_t(i) * 7 + r * 13) % 101 - 50);
      ring.reduce_scatter_sum(x.data(), int64_t(x.size()), "a test reduce-scatter");
      scattered[size_t(r)].push_back(x);
      std::vector<float> y(size_t(chunk * n), -1.0f);
      for (int64_t i = 0; i < chunk; ++i) y[size_t(r * chunk + i)] = float(r * 1000 + i % 997);
      ring.all_gather(y.data(), y.size() * sizeof(float), "a test all-gather");
      gathered[size_t(r)].push_back(y);
    }
    TcpCommunicator comm(std::shared_ptr<TcpRing>(&ring, [](TcpRing*) {}), "torchrun");
    std::vector<double> d(size_t(3 * n));
    for (size_t i = 0; i < d.size(); ++i) d[i] = double(r + 1) * double(i);
    comm.start_reduce_scatter_average(Tensor::view(d.data(), Shape{int64_t(d.size())}, DType::F64), nullptr);
    comm.finish(nullptr);
    averaged[size_t(r)] = d;
  });
  for (int r = 0; r < n; ++r) ASSERT_EQ(errors[size_t(r)], "") << "rank " << r;
  for (size_t s = 0; s < chunks.size(); ++s) {
    const int64_t chunk = chunks[s];
    for (int r = 0; r < n; ++r) {
      for (int64_t i = r * chunk; i < (r + 1) * chunk; ++i) {
        double expected = 0;
        for (int q = 0; q < n; ++q) expected += double((i * 7 + q * 13) % 101 - 50);
        ASSERT_EQ(scattered[size_t(r)][s][size_t(i)], float(expected)) << "rank " << r << ", value " << i;
      }
      for (int owner = 0; owner < n; ++owner)
        for (int64_t i = 0; i < chunk; ++i)
          ASSERT_EQ(gathered[size_t(r)][s][size_t(owner * chunk + i)], float(owner * 1000 + i % 997))
              << "rank " << r << ", chunk " << owner;
    }
  }
  const double mean_factor = double(n + 1) / 2.0;  // (1 + 2 + ... + n) / n
  for (int r = 0; r < n; ++r)
    for (int i = 3 * r; i < 3 * r + 3; ++i) EXPECT_DOUBLE_EQ(averaged[size_t(r)][size_t(i)], mean_factor * i);
}

INSTANTIATE_TEST_SUITE_P(Ranks, ZeroTcpRing, ::testing::Values(2, 3, 4));

// n replicas trained through the harness, plain and with --zero 1: the same weights, replicas alike.
void expect_zero_matches_plain(test::ReplicationCase c, int n) {
  SCOPED_TRACE(c.optimizer + ", " + std::to_string(n) + " replicas, accum " + std::to_string(c.accum_steps));
  std::vector<Tensor> plain(static_cast<size_t>(n)), zero(static_cast<size_t>(n));
  c.zero = false;
  auto plain_comms = cpu_group(n);
  run_replica_threads(plain_comms, [&](int r) { plain[size_t(r)] = test::train_replica(c, *plain_comms[size_t(r)]); });
  c.zero = true;
  auto zero_comms = cpu_group(n);
  run_replica_threads(zero_comms, [&](int r) { zero[size_t(r)] = test::train_replica(c, *zero_comms[size_t(r)]); });
  for (int r = 0; r < n; ++r) {
    EXPECT_TRUE(test::same_bytes(zero[size_t(r)], zero[0])) << "replica " << r << " differs from replica 0";
    const double err = test::relative_error(zero[size_t(r)], plain[0]);
    EXPECT_LE(err, 1e-6) << "replica " << r;
  }
  EXPECT_GT(test::relative_error(plain[0], test::initial_weights(c)), 1e-3) << "the weights did not move";
}

TEST(Zero, ShardedSgdWithMomentumReachesTheWeightsOfPlainReplication) {
  test::ReplicationCase c;
  c.freeze_batch_norm = false;
  for (int n : {2, 3}) expect_zero_matches_plain(c, n);
}

TEST(Zero, ShardedAdamWReachesTheWeightsOfPlainReplication) {
  test::ReplicationCase c;
  c.optimizer = "adamw";
  for (int n : {2, 3}) expect_zero_matches_plain(c, n);
}

TEST(Zero, AccumulationReducesOnlyOnTheLastMicroBatch) {
  test::ReplicationCase c;
  c.accum_steps = 2;
  expect_zero_matches_plain(c, 2);
}

// A replica of a small ResNet on random data, stepped by hand, so the test can reach the optimizer.
struct Replica {
  Context ctx{Device::cpu(), 0};
  std::unique_ptr<Model> model;
  std::unique_ptr<Optimizer> optimizer;
  std::unique_ptr<GradientReducer> reducer;
  CrossEntropyLoss loss;

  Replica(Communicator& comm, const std::string& kind, bool zero, bool ema = false) {
    model = make_resnet({"resnet18", "small", 0.125, 5, 3});
    Rng rng(1);
    init_torchvision(*model, rng);
    model->setup(ctx, 2, 8, 8);
    optimizer = std::make_unique<Optimizer>(*model, OptimizerConfig{.kind = kind, .weight_decay = 1e-2});
    if (ema) optimizer->enable_ema(ctx, 0.9);
    reducer = std::make_unique<GradientReducer>(
        *model, comm, ReducerOptions{.bucket_bytes = 64 << 10, .first_bucket_bytes = 8 << 10, .zero = zero});
    reducer->shard_optimizer(*optimizer);
  }
  // One step on this replica's own random batch; `poison` runs between the reduction and the update.
  void step(int rank, int step, const std::function<void()>& poison = {}) {
    Rng rng(uint64_t(100 * step + rank));
    Tensor x = test::random_f32(Shape{2, 8, 8, 3}, rng);
    Tensor labels = Tensor::zeros(Shape{2}, DType::I32);
    labels.data<int32_t>()[0] = rank % 5;
    labels.data<int32_t>()[1] = (step + 2) % 5;
    loss.forward_backward(ctx, model->forward(ctx, x, true), labels);
    reducer->begin_backward(ctx, true);
    model->backward(ctx, loss.dlogits());
    reducer->finish(ctx);
    if (poison) poison();
    optimizer->step(ctx, 0.01);
  }
};

// The memory figure, measured: each replica holds 1/N of the state (plus at most N - 1 values per
// bucket on the last one), and the shards add up to the whole. The trainer prints the same numbers.
TEST(Zero, EachReplicaHoldsItsShareOfTheOptimizerState) {
  for (const std::string kind : {"sgd", "adamw"})
    for (int n : {2, 3}) {
      auto comms = cpu_group(n);
      std::vector<int64_t> bytes(static_cast<size_t>(n)), whole(static_cast<size_t>(n)), plain(static_cast<size_t>(n));
      std::vector<size_t> buckets(static_cast<size_t>(n));
      run_replica_threads(comms, [&](int r) {
        Replica sharded(*comms[size_t(r)], kind, true);
        bytes[size_t(r)] = sharded.optimizer->state_bytes();
        whole[size_t(r)] = sharded.optimizer->full_state_bytes();
        buckets[size_t(r)] = sharded.reducer->buckets().size();
        EXPECT_TRUE(sharded.optimizer->sharded());
      });
      auto one = cpu_group(1);
      const Replica unsharded(*one[0], kind, true);  // one replica: --zero 1 changes nothing
      EXPECT_FALSE(unsharded.optimizer->sharded());
      const int64_t full = unsharded.optimizer->state_bytes();
      EXPECT_EQ(full, unsharded.optimizer->full_state_bytes());
      EXPECT_EQ(full, int64_t(unsharded.model->parameter_arena().bytes()) * (kind == "adamw" ? 2 : 1));
      int64_t sum = 0;
      for (int r = 0; r < n; ++r) {
        sum += bytes[size_t(r)];
        EXPECT_EQ(whole[size_t(r)], full);
        const int64_t slack = int64_t(buckets[size_t(r)]) * (n - 1) * 4 * (kind == "adamw" ? 2 : 1);
        EXPECT_LE(bytes[size_t(r)], full / n + slack) << kind << ", replica " << r << " of " << n;
        EXPECT_GE(bytes[size_t(r)], full / n - slack) << kind << ", replica " << r << " of " << n;
      }
      EXPECT_EQ(sum, full) << kind << ", " << n << " replicas";
      RecordProperty(kind + "_state_bytes_per_replica_of_" + std::to_string(n), std::to_string(bytes[0]));
      RecordProperty(kind + "_state_bytes_whole", std::to_string(full));
    }
}

// The checkpoint holds the whole state: gathered from the shards, it equals plain replication's state,
// and a file written from it loads into an unsharded optimizer (and shards again on a new group).
TEST(Zero, GatheredStateEqualsPlainStateAndCheckpointsResumeWithOrWithoutSharding) {
  for (const std::string kind : {"sgd", "adamw"}) {
    SCOPED_TRACE(kind);
    const int n = 3;
    test::TempDir dir;
    ASSERT_FALSE(dir.path.empty());
    const std::string file = (dir.path / "zero.safetensors").string();
    std::vector<std::vector<Tensor>> plain_state(static_cast<size_t>(n)), zero_state(static_cast<size_t>(n));
    std::vector<Tensor> plain_ema(static_cast<size_t>(n)), zero_ema(static_cast<size_t>(n));
    for (bool zero : {false, true}) {
      auto comms = cpu_group(n);
      run_replica_threads(comms, [&](int r) {
        Replica rep(*comms[size_t(r)], kind, zero, /*ema=*/true);
        for (int s = 0; s < 3; ++s) rep.step(r, s);
        rep.optimizer->gather_state(rep.ctx);
        auto& out = zero ? zero_state[size_t(r)] : plain_state[size_t(r)];
        // Sharded, only replica 0 (the lead, which writes checkpoints) receives the whole state.
        if (zero && r != 0) {
          EXPECT_THROW(rep.optimizer->state_tensors(), Error) << "replica " << r;
        } else {
          for (const auto& [name, t] : rep.optimizer->state_tensors()) out.push_back(t.clone());
        }
        (zero ? zero_ema : plain_ema)[size_t(r)] = rep.optimizer->ema_parameters().clone();
        if (zero && r == 0) save_checkpoint(file, *rep.model, CheckpointMeta{}, rep.optimizer.get());
      });
    }
    ASSERT_EQ(zero_state[0].size(), plain_state[0].size());
    for (size_t i = 0; i < plain_state[0].size(); ++i)
      EXPECT_LE(test::max_abs_diff(zero_state[0][i], plain_state[0][i]), 1e-6) << plain_state[0].size();
    for (int r = 0; r < n; ++r)
      EXPECT_LE(test::max_abs_diff(zero_ema[size_t(r)], plain_ema[0]), 1e-6) << "replica " << r << "'s EMA";
    // Resumed without --zero: the whole state, as written.
    auto one = cpu_group(1);
    Replica resumed(*one[0], kind, false);
    load_checkpoint(file, *resumed.model, resumed.optimizer.get());
    const auto state = resumed.optimizer->state_tensors();
    ASSERT_EQ(state.size(), plain_state[0].size());
    for (size_t i = 0; i < state.size(); ++i) EXPECT_LE(test::max_abs_diff(state[i].second, plain_state[0][i]), 1e-6);
    // Resumed with --zero 1 on 2 replicas: each keeps its shard of the file's state.
    auto two = cpu_group(2);
    std::vector<Tensor> regathered(2);
    run_replica_threads(two, [&](int r) {
      Context ctx(Device::cpu(), 0);
      auto model = make_resnet({"resnet18", "small", 0.125, 5, 3});
      model->setup(ctx, 2, 8, 8);
      Optimizer optimizer(*model, OptimizerConfig{.kind = kind, .weight_decay = 1e-2});
      load_checkpoint(file, *model, &optimizer);
      GradientReducer reducer(*model, *two[size_t(r)],
                              ReducerOptions{.bucket_bytes = 64 << 10, .first_bucket_bytes = 8 << 10, .zero = true});
      reducer.shard_optimizer(optimizer);
      EXPECT_LE(optimizer.state_bytes(), optimizer.full_state_bytes() / 2 + 64 * 8);
      optimizer.gather_state(ctx);
      if (r == 0) regathered[0] = optimizer.state_tensors()[0].second.clone();
    });
    EXPECT_TRUE(test::same_bytes(regathered[0], state[0].second));
  }
}

// A non-finite gradient that only its shard's owner sees is refused by every replica.
TEST(Zero, ANonFiniteGradientInOneShardIsRefusedByEveryReplica) {
  const int n = 2;
  auto comms = cpu_group(n);
  std::vector<int64_t> refused(static_cast<size_t>(n));
  std::vector<Tensor> before(static_cast<size_t>(n)), after(static_cast<size_t>(n));
  run_replica_threads(comms, [&](int r) {
    Replica rep(*comms[size_t(r)], "sgd", true);
    rep.step(r, 0);
    before[size_t(r)] = rep.model->parameter_arena().clone();
    const ArenaRange mine = rep.reducer->zero_shards()->owned().back();
    rep.step(r, 1, [&] {
      if (r == 0) rep.model->gradient_arena().data<float>()[mine.offset] = std::numeric_limits<float>::quiet_NaN();
    });
    refused[size_t(r)] = rep.optimizer->first_non_finite_step(rep.ctx);
    after[size_t(r)] = rep.model->parameter_arena().clone();
  });
  for (int r = 0; r < n; ++r) {
    EXPECT_EQ(refused[size_t(r)], 2) << "replica " << r;
    EXPECT_TRUE(test::same_bytes(after[size_t(r)], before[size_t(r)])) << "replica " << r << " updated";
  }
}

}  // namespace
}  // namespace aslnet
