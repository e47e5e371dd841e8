// The abort protocol of engine/replication/abort_gate.h, on the CPU: a fake handle stands for the NCCL
// communicator, and its "free" for ncclCommAbort. The NCCL communicator used to check an atomic flag and
// then use the communicator, while another thread could abort (free) it in between; these tests catch
// exactly that: the first by forcing the interleaving, the second by racing threads many times.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <random>
#include <thread>
#include <vector>

#include "engine/replication/abort_gate.h"
#include "engine/replication/communicator.h"

namespace aslnet {
namespace {

// What the gate guards: using it after it was freed is the bug.
struct FakeHandle {
  std::atomic<bool> freed{false};
  std::atomic<int> frees{0};
  std::thread::id freed_on;
  void free() {
    freed_on = std::this_thread::get_id();
    freed = true;
    ++frees;
  }
};

TEST(AbortGate, AnAbortDuringAUseWaitsForTheUseToEnd) {
  // The interleaving of the race, forced: the owner has passed its check and holds the handle when
  // another thread aborts.
  FakeHandle handle;
  AbortGate gate([&] { handle.free(); });
  std::promise<void> in_use, abort_returned;
  bool freed_during_use = true;
  std::thread::id owner_id;
  std::thread owner([&] {
    owner_id = std::this_thread::get_id();
    {
      auto use = gate.use();
      in_use.set_value();
      abort_returned.get_future().wait();
      freed_during_use = handle.freed;  // the owner's read of the handle (ncclCommGetAsyncError)
    }
  });
  in_use.get_future().wait();
  // The abort must neither free the handle now nor wait for the owner (which waits for it here).
  auto aborting = std::async(std::launch::async, [&] { gate.abort("replica 1 failed: a decode error"); });
  const bool returned = aborting.wait_for(std::chrono::seconds(5)) == std::future_status::ready;
  abort_returned.set_value();
  owner.join();
  aborting.wait();
  EXPECT_TRUE(returned) << "abort() waited for the owner's use to end";
  EXPECT_FALSE(freed_during_use) << "the handle was freed while its owner was using it";
  // The owner ran the abort as its use ended, once.
  EXPECT_EQ(handle.frees.load(), 1);
  EXPECT_EQ(handle.freed_on, owner_id);
  EXPECT_TRUE(gate.aborted());
  try {
    auto use = gate.use();
    ADD_FAILURE() << "use() after an abort";
  } catch (const PeerFailure& e) {
    EXPECT_STREQ(e.what(), "replica 1 failed: a decode error");
  }
}

TEST(AbortGate, AnIdleHandleIsAbortedAtOnceAndOnlyOnce) {
  FakeHandle handle;
  AbortGate gate([&] { handle.free(); });
  { auto use = gate.use(); }
  gate.abort("first");
  EXPECT_EQ(handle.frees.load(), 1) << "an idle handle waits for no one";
  EXPECT_EQ(handle.freed_on, std::this_thread::get_id());
  gate.abort("second");
  EXPECT_EQ(handle.frees.load(), 1);
  EXPECT_EQ(gate.reason(), "first");
  EXPECT_THROW({ auto use = gate.use(); }, PeerFailure);
}

TEST(AbortGate, RacingAbortsNeverFreeTheHandleUnderItsOwner) {
  // The owner polls in a loop (synchronize's pattern: a use, a look at the handle, a pause, again) while
  // three threads abort at random moments: every use must see a live handle, and it is freed once.
  std::mt19937 random(5);
  int used_after_free = 0, rounds_freed_once = 0;
  const int rounds = 300;
  for (int round = 0; round < rounds; ++round) {
    FakeHandle handle;
    AbortGate gate([&] { handle.free(); });
    std::atomic<bool> go{false};
    int bad = 0;
    std::thread owner([&] {
      while (!go) std::this_thread::yield();
      for (;;) {
        try {
          auto use = gate.use();
          bad += handle.freed;
          std::this_thread::yield();  // the window between the check and the use, widened
          bad += handle.freed;
        } catch (const PeerFailure&) {
          return;
        }
      }
    });
    std::vector<std::thread> aborters;
    for (int a = 0; a < 3; ++a) {
      const int delay = int(random() % 200);
      aborters.emplace_back([&, delay] {
        while (!go) std::this_thread::yield();
        for (int i = 0; i < delay; ++i) std::this_thread::yield();
        gate.abort("a peer failed");
      });
    }
    go = true;
    for (auto& t : aborters) t.join();
    owner.join();
    used_after_free += bad;
    rounds_freed_once += handle.frees == 1;
  }
  EXPECT_EQ(used_after_free, 0) << "uses of a freed handle in " << rounds << " rounds";
  EXPECT_EQ(rounds_freed_once, rounds);
}

}  // namespace
}  // namespace aslnet
