// The TCP ring (engine/replication/tcp_ring.h) between threads on localhost: the rendezvous, exact sums
// that are the same bits on every rank for 2, 3 and 4 ranks (odd sizes, fewer values than ranks,
// buffers far larger than the sockets' buffers), broadcasts, the communicator's averages, and the
// watchdog: a peer that closes its connections, one that stays silent, one that aborts, and ranks that
// call different collectives.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <functional>
#include <thread>

#include "engine/core/rng.h"
#include "engine/replication/communicator.h"
#include "engine/replication/tcp_communicator.h"
#include "engine/replication/tcp_rendezvous.h"
#include "engine/replication/tcp_ring.h"
#include "engine/replication/tcp_socket.h"

namespace aslnet {
namespace {

using Seconds = std::chrono::duration<double>;

// A port nobody listens on right now (the system picks it; the rendezvous takes it a moment later).
int free_port() {
  Socket probe = listen_tcp(0);
  return local_port(probe);
}

// Runs body(rank, ring) on one thread per rank of a fresh ring whose rank r waits at most timeouts[r]
// seconds; returns each rank's error ("" if none).
std::vector<std::string> run_ring(const std::vector<double>& timeouts, const std::function<void(int, TcpRing&)>& body) {
  const int n = int(timeouts.size());
  const int port = free_port();
  std::vector<std::string> errors(static_cast<size_t>(n));
  std::vector<std::thread> threads;
  for (int r = 0; r < n; ++r)
    threads.emplace_back([&, r] {
      try {
        const double timeout = timeouts[size_t(r)];
        TcpRing ring(r, n, tcp_rendezvous(r, n, "127.0.0.1", port, timeout), timeout);
        body(r, ring);
      } catch (const std::exception& e) {
        errors[size_t(r)] = e.what();
      }
    });
  for (auto& t : threads) t.join();
  return errors;
}
// The same with one timeout for every rank.
std::vector<std::string> run_ring(int n, double timeout, const std::function<void(int, TcpRing&)>& body) {
  return run_ring(std::vector<double>(size_t(n), timeout), body);
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

class TcpRingSizes : public ::testing::TestWithParam<int> {};

TEST_P(TcpRingSizes, SumsAreExactAndTheSameBitsOnEveryRank) {
  const int n = GetParam();
  // Fewer values than ranks, one, odd sizes, and 3 MB per rank (far past the sockets' buffers, so the
  // ring only completes if sends and receives interleave).
  const std::vector<int64_t> sizes = {1, 2, 3, 7, 1001, 750'001};
  std::vector<std::vector<std::vector<float>>> results(static_cast<size_t>(n));  // [rank][size]
  std::vector<std::vector<std::vector<float>>> randoms(static_cast<size_t>(n));
  std::vector<std::vector<double>> doubles(static_cast<size_t>(n));
  const auto errors = run_ring(n, 60.0, [&](int r, TcpRing& ring) {
    for (const int64_t count : sizes) {
      // Small integers: every order of summation gives the exact sum, which the test can compute.
      std::vector<float> x(static_cast<size_t>(count));
      for (int64_t i = 0; i < count; ++i) x[size_t(i)] = float((i * 7 + r * 13) % 101 - 50);
      ring.all_reduce_sum(x.data(), count, "a test all-reduce");
      results[size_t(r)].push_back(x);
      // Random values: rounding depends on the order, which must be the same for every rank.
      Rng rng(uint64_t(1000 + r));
      std::vector<float> y(static_cast<size_t>(count));
      for (float& v : y) v = float(rng.normal());
      ring.all_reduce_sum(y.data(), count, "a test all-reduce");
      randoms[size_t(r)].push_back(y);
    }
    std::vector<double> d = {0.1 * r, 1e17, -1e17, double(r)};
    ring.all_reduce_sum(d.data(), int64_t(d.size()), "a test host sum");
    doubles[size_t(r)] = d;
  });
  for (int r = 0; r < n; ++r) ASSERT_EQ(errors[size_t(r)], "") << "rank " << r;
  for (size_t s = 0; s < sizes.size(); ++s) {
    const int64_t count = sizes[s];
    for (int64_t i = 0; i < count; ++i) {
      double expected = 0;
      for (int r = 0; r < n; ++r) expected += double((i * 7 + r * 13) % 101 - 50);
      ASSERT_EQ(results[0][s][size_t(i)], float(expected)) << "value " << i << " of " << count;
    }
    for (int r = 1; r < n; ++r) {
      EXPECT_TRUE(same_bits(results[size_t(r)][s], results[0][s])) << "rank " << r << ", " << count << " values";
      EXPECT_TRUE(same_bits(randoms[size_t(r)][s], randoms[0][s])) << "rank " << r << ", " << count << " values";
    }
    // And the random sums are sums (a float's rounding away from the exact one).
    std::vector<std::vector<float>> inputs(static_cast<size_t>(n));
    for (int r = 0; r < n; ++r) {
      Rng rng(uint64_t(1000 + r));
      for (int64_t i = 0; i < count; ++i) inputs[size_t(r)].push_back(float(rng.normal()));
    }
    for (int64_t i = 0; i < count; i += 997) {
      double exact = 0;
      for (int r = 0; r < n; ++r) exact += inputs[size_t(r)][size_t(i)];
      EXPECT_NEAR(randoms[0][s][size_t(i)], exact, 1e-5 * n);
    }
  }
  for (int r = 0; r < n; ++r) {
    EXPECT_EQ(std::memcmp(doubles[size_t(r)].data(), doubles[0].data(), 4 * sizeof(double)), 0) << "rank " << r;
    EXPECT_EQ(doubles[size_t(r)][3], double(n * (n - 1) / 2));
  }
}

TEST_P(TcpRingSizes, BroadcastsFromAnyRoot) {
  const int n = GetParam();
  std::vector<std::vector<int>> got(static_cast<size_t>(n));
  const auto errors = run_ring(n, 60.0, [&](int r, TcpRing& ring) {
    for (int root : {0, n - 1, n / 2}) {
      std::vector<int> x(300'001, r);  // 1.2 MB
      if (r == root)
        for (size_t i = 0; i < x.size(); ++i) x[i] = int(i) * 3 + root;
      ring.broadcast(x.data(), x.size() * sizeof(int), root, "a test broadcast");
      got[size_t(r)].insert(got[size_t(r)].end(), x.begin(), x.end());
    }
  });
  for (int r = 0; r < n; ++r) ASSERT_EQ(errors[size_t(r)], "") << "rank " << r;
  for (int r = 0; r < n; ++r) {
    size_t at = 0;
    for (int root : {0, n - 1, n / 2})
      for (size_t i = 0; i < 300'001; ++i, ++at) ASSERT_EQ(got[size_t(r)][at], int(i) * 3 + root) << "rank " << r;
  }
}

TEST_P(TcpRingSizes, TheCommunicatorAveragesAndSumsHostNumbers) {
  const int n = GetParam();
  std::vector<std::vector<float>> averaged(static_cast<size_t>(n));
  std::vector<std::vector<double>> sums(static_cast<size_t>(n));
  const auto errors = run_ring(n, 60.0, [&](int r, TcpRing& ring) {
    // The communicator shares the ring, as ProcessGroup's do.
    TcpCommunicator comm(std::shared_ptr<TcpRing>(&ring, [](TcpRing*) {}), "torchrun");
    EXPECT_EQ(comm.rank(), r);
    EXPECT_EQ(comm.size(), n);
    EXPECT_EQ(comm.name(), "tcp ring, torchrun");
    std::vector<float> x = {float(r), float(2 * r), 1.0f, float(n)};
    comm.all_reduce_average(Tensor::view(x.data(), Shape{4}, DType::F32), nullptr);
    averaged[size_t(r)] = x;
    std::vector<double> v = {1.0, double(r)};
    comm.all_reduce_sum_host(v);
    sums[size_t(r)] = v;
    comm.barrier();
  });
  for (int r = 0; r < n; ++r) ASSERT_EQ(errors[size_t(r)], "") << "rank " << r;
  const float half = float(n * (n - 1) / 2);
  for (int r = 0; r < n; ++r) {
    EXPECT_TRUE(same_bits(averaged[size_t(r)], averaged[0]));
    EXPECT_FLOAT_EQ(averaged[size_t(r)][0], half / float(n));
    EXPECT_FLOAT_EQ(averaged[size_t(r)][2], 1.0f);
    EXPECT_EQ(sums[size_t(r)], (std::vector<double>{double(n), double(half)}));
  }
}

INSTANTIATE_TEST_SUITE_P(Ranks, TcpRingSizes, ::testing::Values(2, 3, 4));

TEST(TcpRing, APeerThatClosesItsConnectionsStopsTheOthersAtOnce) {
  const auto start = std::chrono::steady_clock::now();
  const auto errors = run_ring(3, 600.0, [&](int r, TcpRing& ring) {
    std::vector<float> x(1000, 1.0f);
    if (r == 2) return;  // leaves: the ring's destructor closes its connections
    ring.all_reduce_sum(x.data(), int64_t(x.size()), "an all-reduce of gradients");
  });
  const double took = Seconds(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(took, 10.0) << "with a 600 s timeout";
  for (int r : {0, 1}) {
    EXPECT_NE(errors[size_t(r)].find("rank 2 closed its connection"), std::string::npos) << errors[size_t(r)];
    EXPECT_NE(errors[size_t(r)].find("an all-reduce of gradients"), std::string::npos) << errors[size_t(r)];
  }
}

TEST(TcpRing, ASilentPeerHitsTheTimeout) {
  const auto start = std::chrono::steady_clock::now();
  // Rank 2 waits for data from rank 1, which never comes. Rank 0 waits too, for rank 2 (which waits for
  // rank 1); with the same timeout the two watchdogs would race, and whichever fired first would be
  // reported by the other. Rank 0's longer timeout lets rank 2's fire first, as the one that waits on
  // the silent rank: its reason must go round the ring to rank 0 long before rank 0's own timeout.
  const auto errors = run_ring({5.0, 5.0, 1.0}, [&](int r, TcpRing& ring) {
    std::vector<double> x(5, 1.0);
    if (r == 1) {
      // Stays connected and says nothing until the others have given up.
      std::this_thread::sleep_for(std::chrono::seconds(3));
      return;
    }
    ring.all_reduce_sum(x.data(), int64_t(x.size()), "a host all-reduce");
  });
  const double took = Seconds(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(took, 15.0);
  const std::string reason = "rank 2: a host all-reduce #1 waited 1 s for the other ranks (nothing from rank 1";
  EXPECT_NE(errors[2].find(reason), std::string::npos) << errors[2];
  EXPECT_NE(errors[0].find(reason), std::string::npos) << "rank 0 reports rank 2's reason: " << errors[0];
}

TEST(TcpRing, AnAbortCarriesItsReasonRoundTheRing) {
  const auto start = std::chrono::steady_clock::now();
  const auto errors = run_ring(4, 600.0, [&](int r, TcpRing& ring) {
    if (r == 2) {
      ring.abort("rank 2: cannot read /no/such/folder");
      std::this_thread::sleep_for(std::chrono::milliseconds(200));  // keeps its end open a moment
      return;
    }
    std::vector<float> x(10, 1.0f);
    ring.all_reduce_sum(x.data(), int64_t(x.size()), "an all-reduce of gradients");
  });
  EXPECT_LT(Seconds(std::chrono::steady_clock::now() - start).count(), 10.0);
  for (int r : {0, 1, 3})
    EXPECT_NE(errors[size_t(r)].find("rank 2: cannot read /no/such/folder"), std::string::npos)
        << "rank " << r << ": " << errors[size_t(r)];
}

TEST(TcpRing, CollectivesThatDifferBetweenRanksAreNamed) {
  const auto errors = run_ring(2, 60.0, [&](int r, TcpRing& ring) {
    std::vector<float> x(size_t(r == 0 ? 10 : 12), 1.0f);
    ring.all_reduce_sum(x.data(), int64_t(x.size()), "an all-reduce of gradients");
  });
  const std::string both = errors[0] + errors[1];
  EXPECT_NE(both.find("collective #1 differs between ranks"), std::string::npos) << both;
  EXPECT_NE(errors[0], "");
  EXPECT_NE(errors[1], "");
}

TEST(TcpRendezvous, RankZeroNamesTheRanksThatNeverCame) {
  const int port = free_port();
  try {
    tcp_rendezvous(0, 3, "127.0.0.1", port, 0.5);
    FAIL() << "a rendezvous of one rank out of three completed";
  } catch (const Error& e) {
    EXPECT_NE(e.message().find("rank 0 waited 0 s on port " + std::to_string(port) + " for rank(s) 1, 2 to connect"),
              std::string::npos)
        << e.message();
  }
}

TEST(TcpRendezvous, ARankNamesTheRankZeroItCouldNotReach) {
  const int port = free_port();
  try {
    tcp_rendezvous(1, 2, "127.0.0.1", port, 0.5);
    FAIL() << "rank 1 joined without a rank 0";
  } catch (const Error& e) {
    EXPECT_NE(e.message().find("rank 1 could not reach rank 0 at 127.0.0.1:" + std::to_string(port)), std::string::npos)
        << e.message();
  }
}

TEST(TcpRendezvous, RanksThatDisagreeOnTheSizeAreRefused) {
  const int port = free_port();
  std::string error0;
  std::thread zero([&] {
    try {
      tcp_rendezvous(0, 2, "127.0.0.1", port, 5.0);
    } catch (const Error& e) {
      error0 = e.message();
    }
  });
  try {
    tcp_rendezvous(1, 3, "127.0.0.1", port, 5.0);
  } catch (const Error&) {
  }
  zero.join();
  EXPECT_NE(error0.find("rank 1 says the run has 3 ranks, rank 0 says 2"), std::string::npos) << error0;
}

}  // namespace
}  // namespace aslnet
