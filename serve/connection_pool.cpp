#include "serve/connection_pool.h"

#include "engine/core/error.h"

namespace aslnet::serve {

ConnectionPool::ConnectionPool(int threads, int max_connections) : max_connections_(max_connections) {
  ASLNET_CHECK(threads > 0 && max_connections >= threads)
      << "--max-connections (" << max_connections << ") must be at least --http-threads (" << threads << ")";
  std::lock_guard<std::mutex> lock(mutex_);
  for (int i = 0; i < threads; ++i) start_thread();
}

// Under mutex_. A thread counts as idle from its start: it takes no task yet.
void ConnectionPool::start_thread() {
  ++idle_;
  threads_.emplace_back([this] { work(); });
}

ConnectionPool::~ConnectionPool() { shutdown(); }

void ConnectionPool::enqueue(std::function<void()> task) {
  std::lock_guard<std::mutex> lock(mutex_);
  tasks_.push_back(std::move(task));
  // Every thread is holding a connection: one more, so that this one is answered now.
  if (idle_ < int(tasks_.size()) && int(threads_.size()) < max_connections_) start_thread();
  ready_.notify_one();
}

void ConnectionPool::shutdown() {
  std::vector<std::thread> threads;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_ && threads_.empty()) return;
    stopping_ = true;
    threads.swap(threads_);
  }
  ready_.notify_all();
  for (std::thread& t : threads) t.join();
}

int ConnectionPool::threads() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return int(threads_.size());
}

void ConnectionPool::work() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    ready_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
    if (tasks_.empty()) return;  // stopping, and nothing left to answer
    std::function<void()> task = std::move(tasks_.front());
    tasks_.pop_front();
    --idle_;
    lock.unlock();
    task();
    lock.lock();
    ++idle_;
  }
}

}  // namespace aslnet::serve
