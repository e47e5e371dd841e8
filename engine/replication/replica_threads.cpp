#include "engine/replication/replica_threads.h"

#include <exception>
#include <mutex>
#include <thread>

namespace aslnet {

void run_replica_threads(const std::vector<std::unique_ptr<Communicator>>& communicators,
                         const std::function<void(int replica)>& body) {
  const int n = int(communicators.size());
  std::mutex mutex;
  std::exception_ptr root, echo;  // the first failure, and the first PeerFailure caused by it
  auto run = [&](int r) {
    try {
      body(r);
    } catch (const PeerFailure&) {
      std::lock_guard<std::mutex> lock(mutex);
      if (!echo) echo = std::current_exception();
    } catch (const std::exception& e) {
      const std::string why = "replica " + std::to_string(r) + " failed: " + e.what();
      {
        std::lock_guard<std::mutex> lock(mutex);
        if (!root) root = std::current_exception();
      }
      for (const auto& c : communicators) c->abort(why);
    }
  };
  if (n == 1) {
    run(0);
  } else {
    std::vector<std::thread> threads;
    for (int r = 0; r < n; ++r) threads.emplace_back(run, r);
    for (auto& t : threads) t.join();
  }
  if (root) std::rethrow_exception(root);
  if (echo) std::rethrow_exception(echo);
}

}  // namespace aslnet
