// The threads that answer aslnet serve's connections. cpp-httplib hands each accepted connection to a
// task queue, and a thread keeps it for as long as the client keeps it open; its fixed thread pool let
// a few idle or slow clients (200 idle connections, or nine sending a byte every two seconds) hold every
// thread, and the server went deaf, /healthz included. This pool keeps `threads` threads and starts
// another whenever a connection arrives with none idle, up to `max_connections` at once; past that,
// connections wait for a free thread.
#pragma once

#include <httplib.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace aslnet::serve {

class ConnectionPool : public httplib::TaskQueue {
 public:
  ConnectionPool(int threads, int max_connections);
  ~ConnectionPool() override;

  void enqueue(std::function<void()> task) override;
  void shutdown() override;
  int threads() const;  // started so far

 private:
  void start_thread();
  void work();

  const int max_connections_;
  mutable std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> tasks_;
  std::vector<std::thread> threads_;
  int idle_ = 0;  // threads not running a task
  bool stopping_ = false;
};

}  // namespace aslnet::serve
