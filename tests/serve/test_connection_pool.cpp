// serve/connection_pool.h: connections that hold their thread make the pool start more, up to the
// limit; past it, connections wait; shutdown answers what was queued and joins every thread.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <thread>

#include "engine/core/error.h"
#include "serve/connection_pool.h"

namespace aslnet::serve {
namespace {

using namespace std::chrono_literals;

// Waits up to two seconds for `done`.
bool eventually(const std::function<bool()>& done) {
  for (int i = 0; i < 200 && !done(); ++i) std::this_thread::sleep_for(10ms);
  return done();
}

TEST(ConnectionPool, HeldConnectionsStartMoreThreadsUpToTheLimit) {
  ConnectionPool pool(2, 5);
  std::atomic<bool> release{false};
  std::atomic<int> running{0}, finished{0};
  auto held = [&] {
    ++running;
    while (!release) std::this_thread::sleep_for(1ms);
    ++finished;
  };
  for (int i = 0; i < 4; ++i) pool.enqueue(held);
  EXPECT_TRUE(eventually([&] { return running == 4; })) << running << " of 4 held connections answered";
  EXPECT_EQ(pool.threads(), 4);
  for (int i = 0; i < 3; ++i) pool.enqueue(held);  // one more fits, two wait
  EXPECT_TRUE(eventually([&] { return running == 5; }));
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(running, 5) << "past --max-connections, connections wait for a thread";
  EXPECT_EQ(pool.threads(), 5);
  release = true;
  EXPECT_TRUE(eventually([&] { return finished == 7; }));
  pool.shutdown();
  EXPECT_EQ(pool.threads(), 0);
}

TEST(ConnectionPool, ShutdownAnswersWhatWasQueued) {
  std::atomic<int> done{0};
  {
    ConnectionPool pool(1, 1);
    for (int i = 0; i < 20; ++i) pool.enqueue([&] { ++done; });
    pool.shutdown();
  }
  EXPECT_EQ(done, 20);
}

TEST(ConnectionPool, ALimitUnderTheThreadCountIsRefused) { EXPECT_THROW(ConnectionPool(4, 2), aslnet::Error); }

}  // namespace
}  // namespace aslnet::serve
