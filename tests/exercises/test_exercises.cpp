// The exercises of docs/replication.md, checked. This file is built twice (tests/CMakeLists.txt):
// test_exercises against the reader's files in exercises/ (a test is skipped while its exercise still
// throws NotAttempted) and test_exercise_solutions against exercises/solutions/ (always run, so CI
// proves that every exercise can be done and that its test can tell right from wrong).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "engine/core/rng.h"
#include "engine/replication/in_process.h"
#include "engine/replication/replica_threads.h"
#include "exercises/exercises.h"
#include "kernels/norm.h"

namespace aslnet::exercises {
namespace {

// Runs `body`, turning the stub's NotAttempted into a skip with its message.
#define SKIP_UNTIL_ATTEMPTED(...)            \
  try {                                      \
    __VA_ARGS__;                             \
  } catch (const NotAttempted& e) {          \
    GTEST_SKIP() << e.what();                \
  }

std::vector<std::unique_ptr<Communicator>> cpu_replicas(int n, double timeout_seconds = 60.0) {
  return make_in_process_communicators(std::vector<Device>(size_t(n), Device::cpu()),
                                       CommOptions{.timeout_seconds = timeout_seconds});
}

// --- Exercise 2: issue order ---------------------------------------------------------------------

// Three buckets of different sizes (so a mix-up is visible to the size check), averaged by two
// replicas whose backward completes them in different orders: replica 1 finishes bucket 2 before
// bucket 1, as a residual block's shortcut can. Returns the error that stopped them ("" if none).
std::string reduce_buckets(const std::function<std::unique_ptr<IssuePolicy>(int)>& make_policy,
                           std::vector<std::vector<Tensor>>& buckets) {
  const std::vector<int64_t> sizes = {4, 7, 5};
  const std::vector<std::vector<int>> completion = {{0, 1, 2}, {0, 2, 1}};
  auto comms = cpu_replicas(2, 5.0);
  buckets.assign(2, {});
  for (int r = 0; r < 2; ++r)
    for (size_t b = 0; b < sizes.size(); ++b) {
      buckets[size_t(r)].push_back(Tensor::empty(Shape{sizes[b]}, DType::F32));
      std::fill_n(buckets[size_t(r)][b].data<float>(), sizes[b], float(10 * r + b));
    }
  try {
    run_replica_threads(comms, [&](int r) {
      auto policy = make_policy(int(sizes.size()));
      for (int b : completion[size_t(r)])
        for (int start : policy->bucket_complete(b))
          comms[size_t(r)]->start_all_reduce_average(buckets[size_t(r)][size_t(start)], nullptr);
      comms[size_t(r)]->finish(nullptr);
    });
  } catch (const NotAttempted&) {
    throw;
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

TEST(IssueOrder, IndexOrderAgreesAcrossReplicasWhateverOrderTheirBucketsComplete) {
  std::vector<std::vector<Tensor>> buckets;
  const std::string error =
      reduce_buckets([](int n) -> std::unique_ptr<IssuePolicy> { return std::make_unique<IndexOrderPolicy>(n); }, buckets);
  ASSERT_EQ(error, "");
  for (size_t b = 0; b < 3; ++b)
    for (int r = 0; r < 2; ++r) EXPECT_EQ(buckets[size_t(r)][b].data<float>()[0], float(b) + 5.0f) << "bucket " << b;
}

TEST(IssueOrder, ReadyOrderStartsEachBucketAsItCompletesAndTripsTheMismatchDetector) {
  SKIP_UNTIL_ATTEMPTED({
    // On its own the policy must start every bucket exactly once, the moment it completes.
    auto policy = make_ready_order_policy(3);
    for (int b : {2, 0, 1}) EXPECT_EQ(policy->bucket_complete(b), std::vector<int>{b});
    std::vector<std::vector<Tensor>> buckets;
    const std::string error = reduce_buckets(make_ready_order_policy, buckets);
    EXPECT_NE(error.find("differs between replicas"), std::string::npos)
        << "two replicas issuing buckets in the order they completed should have called different collectives: "
        << (error.empty() ? "no error" : error);
  });
}

// --- Exercise 3: SyncBatchNorm's backward --------------------------------------------------------

void check_sync_batch_norm(const std::vector<int64_t>& rows_per_replica) {
  constexpr int64_t channels = 3;
  constexpr double eps = 1e-5;
  const int n = int(rows_per_replica.size());
  const int64_t total = std::accumulate(rows_per_replica.begin(), rows_per_replica.end(), int64_t(0));
  Rng rng(7 + uint64_t(total));
  std::vector<float> x(size_t(total * channels)), dy(x.size()), gamma(channels), beta(channels);
  for (float& v : x) v = float(rng.normal() * 2.0 + 0.5);
  for (float& v : dy) v = float(rng.normal());
  for (float& v : gamma) v = float(rng.uniform() + 0.5);
  for (float& v : beta) v = float(rng.normal());

  // One batch norm over the whole batch: the engine's CPU kernels.
  std::vector<float> y(x.size()), mean(channels), invstd(channels), running_mean(channels, 0.0f), running_var(channels, 1.0f);
  std::vector<float> dx(x.size()), dgamma(channels), dbeta(channels);
  const kernels::NormShape shape{.rows = total, .c = channels};
  kernels::cpu::batchnorm_forward_train(shape, x.data(), gamma.data(), beta.data(), y.data(), mean.data(), invstd.data(),
                                        running_mean.data(), running_var.data(), 0.1, eps);
  kernels::cpu::batchnorm_backward(shape, x.data(), dy.data(), gamma.data(), mean.data(), invstd.data(), dx.data(),
                                   dgamma.data(), dbeta.data(), false, true);

  // The same batch split over `n` replicas on threads.
  auto comms = cpu_replicas(n);
  const size_t replicas = rows_per_replica.size();
  std::vector<std::vector<float>> rdx(replicas), rdgamma(replicas, std::vector<float>(channels)),
      rdbeta(replicas, std::vector<float>(channels));
  std::vector<int> backward_reductions(replicas, 0);
  run_replica_threads(comms, [&](int r) {
    int64_t first = 0;
    for (int k = 0; k < r; ++k) first += rows_per_replica[size_t(k)];
    const int64_t rows = rows_per_replica[size_t(r)];
    const std::span<const float> mx(x.data() + first * channels, size_t(rows * channels));
    const std::span<const float> mdy(dy.data() + first * channels, size_t(rows * channels));
    std::vector<float> my(mx.size());
    rdx[size_t(r)].resize(mx.size());
    const auto sum = [&](std::vector<double>& v) { comms[size_t(r)]->all_reduce_sum_host(v); };
    const SyncBatchNormSaved saved = sync_batch_norm_forward(mx, channels, gamma, beta, eps, sum, my);
    for (size_t i = 0; i < my.size(); ++i)
      ASSERT_NEAR(my[i], y[size_t(first * channels) + i], 1e-4) << "the forward (given) disagrees at " << i;
    const auto counted_sum = [&](std::vector<double>& v) {
      ++backward_reductions[size_t(r)];
      sum(v);
    };
    sync_batch_norm_backward(mx, mdy, channels, gamma, saved, counted_sum, rdx[size_t(r)], rdgamma[size_t(r)],
                             rdbeta[size_t(r)]);
  });

  int64_t first = 0;
  for (int r = 0; r < n; ++r) {
    EXPECT_LE(backward_reductions[size_t(r)], 1) << "replica " << r << ": one all-reduce is enough";
    for (size_t i = 0; i < rdx[size_t(r)].size(); ++i)
      ASSERT_NEAR(rdx[size_t(r)][i], dx[size_t(first * channels) + i], 1e-4 + 1e-4 * std::abs(dx[size_t(first * channels) + i]))
          << "dx of replica " << r << " at " << i;
    for (int64_t c = 0; c < channels; ++c) {
      EXPECT_NEAR(rdgamma[size_t(r)][size_t(c)], dgamma[size_t(c)], 1e-3) << "dgamma, replica " << r << ", channel " << c;
      EXPECT_NEAR(rdbeta[size_t(r)][size_t(c)], dbeta[size_t(c)], 1e-3) << "dbeta, replica " << r << ", channel " << c;
    }
    first += rows_per_replica[size_t(r)];
  }
}

TEST(SyncBatchNorm, BackwardOverReplicasMatchesOneBatchNormOnTheWholeBatch) {
  SKIP_UNTIL_ATTEMPTED({
    check_sync_batch_norm({6, 6});
    check_sync_batch_norm({5, 9, 2});  // replicas with unequal shares of the batch
  });
}

// --- Exercise 4: the sharded optimizer -----------------------------------------------------------

TEST(ShardedSgd, ShardsTileTheArenaInRankOrderAndDifferByAtMostOne) {
  SKIP_UNTIL_ATTEMPTED({
    for (int64_t numel : {0, 1, 2, 5, 1001})
      for (int size : {1, 2, 3, 4}) {
        int64_t expected_begin = 0, smallest = numel, largest = 0;
        for (int rank = 0; rank < size; ++rank) {
          const auto [begin, end] = shard_range(numel, rank, size);
          EXPECT_EQ(begin, expected_begin) << numel << " values, rank " << rank << " of " << size;
          EXPECT_LE(begin, end);
          smallest = std::min(smallest, end - begin);
          largest = std::max(largest, end - begin);
          expected_begin = end;
        }
        EXPECT_EQ(expected_begin, numel) << "the shards of " << numel << " values over " << size << " ranks";
        EXPECT_LE(largest - smallest, 1) << numel << " values over " << size << " ranks";
      }
  });
}

void check_sharded_sgd(int replicas) {
  constexpr int64_t numel = 1001;
  constexpr float lr = 0.1f, momentum = 0.9f;
  constexpr int steps = 3;
  Rng rng(11);
  std::vector<float> start(numel);
  std::vector<std::vector<float>> grads(steps, std::vector<float>(numel));
  for (float& v : start) v = float(rng.normal());
  for (auto& g : grads)
    for (float& v : g) v = float(rng.normal());
  // Unsharded SGD with momentum on the whole arena, in the same float arithmetic.
  std::vector<float> expected = start, velocity(numel, 0.0f);
  for (const auto& g : grads)
    for (int64_t i = 0; i < numel; ++i) {
      velocity[size_t(i)] = momentum * velocity[size_t(i)] + g[size_t(i)];
      expected[size_t(i)] -= lr * velocity[size_t(i)];
    }

  auto comms = cpu_replicas(replicas);
  const size_t count = comms.size();
  std::vector<Tensor> weights(count);
  std::vector<size_t> state(count);
  run_replica_threads(comms, [&](int r) {
    weights[size_t(r)] = Tensor::empty(Shape{numel}, DType::F32);
    std::copy(start.begin(), start.end(), weights[size_t(r)].data<float>());
    std::vector<float> shard_velocity;
    for (const auto& g : grads) {
      const Tensor gradients = Tensor::view(const_cast<float*>(g.data()), Shape{numel}, DType::F32);
      sharded_sgd_step(*comms[size_t(r)], weights[size_t(r)], gradients, shard_velocity, lr, momentum);
    }
    state[size_t(r)] = shard_velocity.size();
  });
  for (int r = 0; r < replicas; ++r) {
    const auto [begin, end] = shard_range(numel, r, replicas);
    EXPECT_EQ(int64_t(state[size_t(r)]), end - begin) << "replica " << r << " keeps only its shard's velocity";
    for (int64_t i = 0; i < numel; ++i)
      ASSERT_EQ(weights[size_t(r)].data<float>()[i], expected[size_t(i)]) << "replica " << r << ", weight " << i;
  }
}

TEST(ShardedSgd, MatchesUnshardedSgdBitForBitOnEveryReplica) {
  SKIP_UNTIL_ATTEMPTED({
    check_sharded_sgd(2);
    check_sharded_sgd(3);
  });
}

}  // namespace
}  // namespace aslnet::exercises
