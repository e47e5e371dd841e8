// The in-process communicator's ring all-reduce (engine/replication/in_process_ring.h, `--allreduce
// ring`) on CPU replicas: every replica ends with the same bits, which equal the central sum's within
// float rounding (and exactly with 2 replicas, and on segment 0 always); sizes that n does not divide,
// sizes below n and 0; f32 and f64; several all-reduces in flight with broadcasts and host sums between
// them; the watchdog and the abort protocol; training with it reaches one replica's weights.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <thread>

#include "engine/core/build_config.h"
#include "engine/replication/in_process.h"
#include "engine/replication/replica_threads.h"
#include "tests/replication/failing_replica.h"
#include "tests/replication/harness.h"
#include "tests/test_util.h"

namespace aslnet {
namespace {

using Comms = std::vector<std::unique_ptr<Communicator>>;

Comms cpu_group(int n, AllReduceAlgorithm algorithm, double timeout_seconds = 60.0) {
  return make_in_process_communicators(std::vector<Device>(size_t(n), Device::cpu()), {timeout_seconds}, algorithm);
}

template <class T>
const T* values(const Tensor& t) {
  return static_cast<const T*>(t.raw());
}

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.bytes() == b.bytes() && (a.bytes() == 0 || std::memcmp(a.raw(), b.raw(), a.bytes()) == 0);
}

// Inputs of n replicas: random values, of both signs, of `count` elements of `dtype`.
std::vector<Tensor> random_inputs(int n, int64_t count, DType dtype, Rng& rng) {
  std::vector<Tensor> out;
  for (int r = 0; r < n; ++r) {
    Tensor t = Tensor::zeros(Shape{count}, dtype);
    for (int64_t i = 0; i < count; ++i) {
      const double v = rng.normal() * std::exp(rng.uniform(-3.0, 3.0));
      if (dtype == DType::F64) static_cast<double*>(t.raw())[i] = v;
      else static_cast<float*>(t.raw())[i] = float(v);
    }
    out.push_back(t);
  }
  return out;
}

// Every replica's buffer after one all-reduce average of `inputs` with `algorithm`.
std::vector<Tensor> all_reduced(const std::vector<Tensor>& inputs, AllReduceAlgorithm algorithm) {
  const int n = int(inputs.size());
  auto comms = cpu_group(n, algorithm);
  std::vector<Tensor> buffers;
  for (const Tensor& t : inputs) buffers.push_back(t.clone());
  run_replica_threads(comms, [&](int r) { comms[size_t(r)]->all_reduce_average(buffers[size_t(r)], nullptr); });
  return buffers;
}

template <class T>
void expect_ring_matches_central(int n, int64_t count, DType dtype, double tolerance) {
  SCOPED_TRACE(std::to_string(n) + " replicas, " + std::to_string(count) + " values of " + dtype_name(dtype));
  Rng rng(test::fresh_seed());
  const auto inputs = random_inputs(n, count, dtype, rng);
  const auto ring = all_reduced(inputs, AllReduceAlgorithm::Ring);
  const auto central = all_reduced(inputs, AllReduceAlgorithm::Central);
  // (a) The same bits on every replica: each segment is summed once and then copied.
  for (int r = 1; r < n; ++r) EXPECT_TRUE(same_bits(ring[size_t(r)], ring[0])) << "replica " << r << " differs";
  // (b) The central sum's value within float rounding, relative to the size of what was summed.
  double worst = 0.0;
  for (int64_t i = 0; i < count; ++i) {
    double magnitude = 0.0;
    for (const Tensor& t : inputs) magnitude += std::abs(double(values<T>(t)[i])) / n;
    const double diff = std::abs(double(values<T>(ring[0])[i]) - double(values<T>(central[0])[i]));
    worst = std::max(worst, diff / magnitude);
  }
  EXPECT_LE(worst, tolerance);
  ::testing::Test::RecordProperty("worst_relative_" + std::to_string(n) + "_" + std::to_string(count), std::to_string(worst));
  // (c) Segment 0 is summed in rank order by both algorithms: the same bits. With 2 replicas every
  // segment is (a + b and b + a are the same IEEE number).
  const int64_t first_end = ring::segment_begin(count, n, 1);
  const size_t compare = size_t(n == 2 ? count : first_end) * sizeof(T);
  if (compare > 0) {
    EXPECT_EQ(std::memcmp(ring[0].raw(), central[0].raw(), compare), 0) << "segment 0 differs";
  }
}

TEST(InProcessRing, EveryReplicaGetsTheSameBitsCloseToTheCentralSum) {
  for (int n : {2, 3, 4})
    for (int64_t count : {int64_t(0), int64_t(1), int64_t(n - 1), int64_t(n), int64_t(n + 1), int64_t(7),
                          int64_t(1001), int64_t(100003)}) {
      expect_ring_matches_central<float>(n, count, DType::F32, 1e-6);
      expect_ring_matches_central<double>(n, count, DType::F64, 1e-14);
    }
}

TEST(InProcessRing, SegmentsCoverTheBufferInNearlyEqualParts) {
  for (int n : {1, 2, 3, 4, 7})
    for (int64_t count : {0, 1, 2, 5, 6, 1001}) {
      EXPECT_EQ(ring::segment_begin(count, n, 0), 0);
      EXPECT_EQ(ring::segment_begin(count, n, n), count);
      for (int s = 0; s < n; ++s) {
        const int64_t size = ring::segment_begin(count, n, s + 1) - ring::segment_begin(count, n, s);
        EXPECT_TRUE(size == count / n || size == count / n + 1) << n << " " << count << " " << s;
      }
    }
  EXPECT_EQ(ring::wrap(-1, 4), 3);
  EXPECT_EQ(ring::wrap(-5, 4), 3);
  EXPECT_EQ(ring::wrap(6, 4), 2);
}

TEST(InProcessRing, SeveralAllReducesInFlightWithBroadcastsAndSumsBetween) {
  // The reducer's pattern: several buckets started, then one finish; around them the collectives that
  // stay central (broadcast, host sum), all on one sequence of collectives.
  const int n = 3;
  auto comms = cpu_group(n, AllReduceAlgorithm::Ring);
  EXPECT_EQ(comms[0]->name(), "in-process ring (cpu)");
  Rng rng(test::fresh_seed());
  std::vector<std::vector<Tensor>> inputs;
  for (int64_t count : {5, 1000, 2}) inputs.push_back(random_inputs(n, count, DType::F32, rng));
  std::vector<std::vector<Tensor>> buffers(inputs.size());
  for (size_t b = 0; b < inputs.size(); ++b)
    for (const Tensor& t : inputs[b]) buffers[b].push_back(t.clone());
  std::vector<Tensor> copies;
  for (int r = 0; r < n; ++r) copies.push_back(test::random_f32(Shape{9}, rng));
  const Tensor root = copies[2].clone();
  std::vector<std::vector<double>> sums(n);
  for (int round = 0; round < 2; ++round) {
    run_replica_threads(comms, [&](int r) {
      Communicator& comm = *comms[size_t(r)];
      comm.broadcast(copies[size_t(r)], 2, nullptr);
      for (auto& bucket : buffers) comm.start_all_reduce_average(bucket[size_t(r)], nullptr);
      comm.finish(nullptr);
      sums[size_t(r)] = {1.0, double(r)};
      comm.all_reduce_sum_host(sums[size_t(r)]);
    });
  }
  for (size_t b = 0; b < buffers.size(); ++b) {
    // Twice averaged: the average of identical buffers is itself (up to rounding of x * n / n).
    const auto once = all_reduced(inputs[b], AllReduceAlgorithm::Ring);
    const auto twice = all_reduced(once, AllReduceAlgorithm::Ring);
    for (int r = 0; r < n; ++r) EXPECT_TRUE(same_bits(buffers[b][size_t(r)], twice[0])) << "bucket " << b;
  }
  for (int r = 0; r < n; ++r) {
    EXPECT_TRUE(same_bits(copies[size_t(r)], root)) << "replica " << r;
    EXPECT_EQ(sums[size_t(r)], (std::vector<double>{3.0, 3.0}));
  }
}

TEST(InProcessRing, CollectivesThatDifferBetweenReplicasAreNamed) {
  auto comms = cpu_group(2, AllReduceAlgorithm::Ring);
  try {
    run_replica_threads(comms, [&](int r) {
      Tensor t = Tensor::zeros(Shape{r == 0 ? 4 : 5}, DType::F32);
      comms[size_t(r)]->all_reduce_average(t, nullptr);
    });
    FAIL() << "no error";
  } catch (const PeerFailure& e) {
    EXPECT_NE(std::string(e.what()).find("differs between replicas"), std::string::npos) << e.what();
  }
}

TEST(InProcessRing, WatchdogNamesTheReplicaThatNeverArrived) {
  test::expect_the_watchdog_to_name_a_replica_that_never_arrived(cpu_group(3, AllReduceAlgorithm::Ring, 0.3));
}

TEST(InProcessRing, AFailingReplicaStopsTheOthersAtOnceWithItsReason) {
  // The watchdog (600 s) must not be what ends this.
  test::expect_a_failing_replica_to_stop_the_others(cpu_group(4, AllReduceAlgorithm::Ring, 600.0), 100003);
}

TEST(InProcessRing, AnAbortEndsThePeersWaitsBetweenSteps) {
  // Replica 0 and 1 are inside the ring (both arrived, waiting at a step's barrier for replica 2, which
  // posted but never runs its steps); replica 2's abort must end their waits long before the timeout.
  auto comms = cpu_group(3, AllReduceAlgorithm::Ring, 600.0);
  std::vector<Tensor> buffers;
  for (int r = 0; r < 3; ++r) buffers.push_back(Tensor::zeros(Shape{1000}, DType::F32));
  comms[2]->start_all_reduce_average(buffers[2], nullptr);  // posted; its finish() never runs
  std::atomic<int> ended{0};
  std::vector<std::string> errors(2);
  std::vector<std::thread> peers;
  for (int r = 0; r < 2; ++r)
    peers.emplace_back([&, r] {
      try {
        comms[size_t(r)]->all_reduce_average(buffers[size_t(r)], nullptr);
      } catch (const PeerFailure& e) {
        errors[size_t(r)] = e.what();
      }
      ++ended;
    });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(ended.load(), 0) << "the ring finished without replica 2's steps";
  const auto start = std::chrono::steady_clock::now();
  comms[2]->abort("replica 2 failed: out of memory");
  for (auto& t : peers) t.join();
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 5.0);
  for (const auto& e : errors) EXPECT_EQ(e, "replica 2 failed: out of memory");
}

TEST(InProcessRing, TheWatchdogNamesAReplicaStuckBetweenSteps) {
  auto comms = cpu_group(3, AllReduceAlgorithm::Ring, 0.3);
  std::vector<Tensor> buffers;
  for (int r = 0; r < 3; ++r) buffers.push_back(Tensor::zeros(Shape{10}, DType::F32));
  comms[2]->start_all_reduce_average(buffers[2], nullptr);  // posted; never steps
  std::string error;
  std::thread one([&] {
    try {
      comms[1]->all_reduce_average(buffers[1], nullptr);
    } catch (const PeerFailure&) {
    }
  });
  try {
    comms[0]->all_reduce_average(buffers[0], nullptr);
  } catch (const PeerFailure& e) {
    error = e.what();
  }
  one.join();
  EXPECT_NE(error.find("in ring all-reduce #0 (step 1 of 4) for replica(s) 2, which never finished that step"),
            std::string::npos)
      << error;
}

TEST(InProcessRing, IsRefusedOnAGpuWithAMessage) {
  // Refused before any CUDA call: no GPU is needed to see the message. (A build without CUDA refuses
  // Device::cuda itself, before any communicator is made: nothing of the ring's to see there.)
  if (kBuiltWithCuda) {
    try {
      make_in_process_communicators({Device::cuda(0), Device::cuda(0)}, {}, AllReduceAlgorithm::Ring);
      FAIL() << "accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("--allreduce ring is implemented for CPU replicas only"),
                std::string::npos)
          << e.what();
    }
  }
  EXPECT_EQ(parse_all_reduce_algorithm("ring"), AllReduceAlgorithm::Ring);
  EXPECT_EQ(parse_all_reduce_algorithm("central"), AllReduceAlgorithm::Central);
  EXPECT_THROW(parse_all_reduce_algorithm("tree"), Error);
}

TEST(InProcessRing, ReduceScatterAndAllGatherAreTheRingsTwoHalves) {
  // --zero 1's collectives (Communicator::start_reduce_scatter_average, all_gather): rank r ends the
  // reduce-scatter with chunk r averaged, and the all-gather copies every owner's chunk everywhere.
  for (int n : {2, 3, 4})
    for (int64_t chunk : {0, 1, 5, 1001}) {
      SCOPED_TRACE(std::to_string(n) + " replicas, chunks of " + std::to_string(chunk));
      const int64_t count = chunk * n;
      Rng rng(test::fresh_seed());
      const auto inputs = random_inputs(n, count, DType::F32, rng);
      const auto central = all_reduced(inputs, AllReduceAlgorithm::Central);
      auto comms = cpu_group(n, AllReduceAlgorithm::Ring);
      std::vector<Tensor> buffers, scattered(static_cast<size_t>(n));
      for (const Tensor& t : inputs) buffers.push_back(t.clone());
      run_replica_threads(comms, [&](int r) {
        comms[size_t(r)]->start_reduce_scatter_average(buffers[size_t(r)], nullptr);
        comms[size_t(r)]->finish(nullptr);
        scattered[size_t(r)] = buffers[size_t(r)].clone();
        comms[size_t(r)]->all_gather(buffers[size_t(r)], nullptr);
      });
      for (int r = 0; r < n; ++r) {
        // Chunk r of rank r: the average, within rounding of the central sum's.
        for (int64_t i = r * chunk; i < (r + 1) * chunk; ++i) {
          double magnitude = 0.0;
          for (const Tensor& t : inputs) magnitude += std::abs(double(values<float>(t)[i])) / n;
          EXPECT_LE(std::abs(values<float>(scattered[size_t(r)])[i] - values<float>(central[0])[i]), 1e-6 * magnitude)
              << "rank " << r << ", value " << i;
        }
        // After the all-gather every rank holds every owner's chunk, bit for bit. (Chunks of no values
        // have no memory to compare: memcmp must not be given their null pointers.)
        for (int owner = 0; owner < n && chunk > 0; ++owner)
          EXPECT_EQ(std::memcmp(values<float>(buffers[size_t(r)]) + owner * chunk,
                                values<float>(scattered[size_t(owner)]) + owner * chunk, size_t(chunk) * 4),
                    0)
              << "rank " << r << ", chunk " << owner;
      }
      // The ring's reduce-scatter moved half the data, not the whole: with 2 replicas rank 0's chunk 1
      // is still its own input (the default, an all-reduce, would have averaged it too).
      if (n == 2 && chunk > 0) {
        EXPECT_EQ(std::memcmp(values<float>(scattered[0]) + chunk, values<float>(inputs[0]) + chunk, size_t(chunk) * 4),
                  0);
      }
    }
  auto comms = cpu_group(3, AllReduceAlgorithm::Ring);
  Tensor odd = Tensor::zeros(Shape{7}, DType::F32);
  EXPECT_THROW(comms[0]->start_reduce_scatter_average(odd, nullptr), Error);  // 7 values over 3 ranks
}

// Trains n replicas (with c.allreduce) on their shards; returns their weights, checked identical.
std::vector<Tensor> train_replicas(const test::ReplicationCase& c, int n) {
  auto comms = cpu_group(n, c.allreduce);
  std::vector<Tensor> weights(static_cast<size_t>(n));
  run_replica_threads(comms, [&](int r) { weights[size_t(r)] = test::train_replica(c, *comms[size_t(r)]); });
  for (int r = 1; r < n; ++r) EXPECT_TRUE(same_bits(weights[size_t(r)], weights[0])) << "replica " << r;
  return weights;
}

TEST(InProcessRing, RingReplicasMatchOneReplicaOnTheWholeBatch) {
  test::ReplicationCase c;  // frozen batch norm, as Replication.FrozenBatchNormReplicasMatch...
  c.allreduce = AllReduceAlgorithm::Ring;
  const Tensor whole = test::train_serial(c, 1);
  for (int n : {2, 4}) {
    const auto weights = train_replicas(c, n);
    const double err = test::relative_error(weights[0], whole);
    ::testing::Test::RecordProperty("relative_error_ring_" + std::to_string(n) + "_replicas", std::to_string(err));
    EXPECT_LE(err, 1e-5) << n << " replicas";
  }
  EXPECT_GT(test::relative_error(whole, test::initial_weights(c)), 1e-3) << "the weights did not move";
  // Two replicas: the ring sums each value in the same order as the central sum (a + b == b + a), so
  // the whole training run is the same bits.
  test::ReplicationCase central = c;
  central.allreduce = AllReduceAlgorithm::Central;
  EXPECT_TRUE(same_bits(train_replicas(c, 2)[0], train_replicas(central, 2)[0]));
}

TEST(InProcessRing, ZeroStageOneOverTheRingMatchesPlainReplication) {
  // --zero 1 --allreduce ring: the reducer's reduce-scatter and the optimizer's all-gather run as the
  // ring's two phases; the weights are plain (central) replication's within the ZeRO tests' 1e-6.
  for (int n : {2, 4}) {
    test::ReplicationCase c;
    const Tensor plain = train_replicas(c, n)[0];
    c.zero = true;
    c.allreduce = AllReduceAlgorithm::Ring;
    const auto zero = train_replicas(c, n);
    const double err = test::relative_error(zero[0], plain);
    ::testing::Test::RecordProperty("relative_error_zero_ring_" + std::to_string(n) + "_replicas", std::to_string(err));
    EXPECT_LE(err, 1e-6) << n << " replicas";
    EXPECT_GT(test::relative_error(plain, test::initial_weights(c)), 1e-3) << "the weights did not move";
  }
}

}  // namespace
}  // namespace aslnet
