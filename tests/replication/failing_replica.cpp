#include "tests/replication/failing_replica.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "engine/core/error.h"
#include "engine/replication/replica_threads.h"

namespace aslnet::test {

void expect_a_failing_replica_to_stop_the_others(const std::vector<std::unique_ptr<Communicator>>& comms,
                                                 int64_t values) {
  ASSERT_EQ(comms.size(), 4u);
  std::atomic<int> stopped_by_peer{0};
  const auto start = std::chrono::steady_clock::now();
  try {
    run_replica_threads(comms, [&](int r) {
      Tensor t = Tensor::zeros(Shape{values}, DType::F32);
      for (int step = 0;; ++step) {
        if (r == 2 && step == 3) throw Error("cannot decode /data/A/A1.jpg: not a JPEG file");
        try {
          comms[size_t(r)]->all_reduce_average(t, nullptr);
        } catch (const PeerFailure& e) {
          EXPECT_NE(std::string(e.what()).find("replica 2 failed: cannot decode /data/A/A1.jpg"), std::string::npos)
              << e.what();
          ++stopped_by_peer;
          throw;
        }
      }
    });
    FAIL() << "no error";
  } catch (const PeerFailure&) {
    FAIL() << "the peers' echo was rethrown instead of the root cause";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not a JPEG file"), std::string::npos) << e.what();
  }
  EXPECT_EQ(stopped_by_peer.load(), 3);
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 10.0);
}

void expect_the_watchdog_to_name_a_replica_that_never_arrived(const std::vector<std::unique_ptr<Communicator>>& comms) {
  ASSERT_EQ(comms.size(), 3u);
  Tensor t = Tensor::zeros(Shape{4}, DType::F32);
  std::thread one([&] {
    try {
      comms[1]->all_reduce_average(t.clone(), nullptr);
    } catch (const PeerFailure&) {
    }
  });
  const auto start = std::chrono::steady_clock::now();
  try {
    comms[0]->all_reduce_average(t, nullptr);  // replica 2 never comes
    ADD_FAILURE() << "no timeout";
  } catch (const PeerFailure& e) {
    EXPECT_NE(std::string(e.what()).find("for replica(s) 2, which never arrived"), std::string::npos) << e.what();
  }
  one.join();
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 5.0);
}

}  // namespace aslnet::test
