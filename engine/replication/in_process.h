// The in-process communicator: replicas that share one address space, each driven by its own host
// thread. It serves CPU replicas (`aslnet train --device cpu --replicas N`) and several replicas on
// one GPU (`--devices 0,0`), which NCCL refuses but which lets the reducer's buckets, streams and
// events run on a machine with a single GPU.
//
// How a collective works: every rank posts its buffer under the collective's sequence number (its
// n-th collective); the last rank to arrive does the arithmetic for everyone (summing in rank order,
// so the result is the same bits on every rank and every run) and marks the collective done. On a GPU
// the posts carry an event recorded on the poster's stream; the last arrival's stream waits on all of
// them, runs one averaging kernel over every replica's buffer, and records a `done` event that each
// rank's stream waits on in finish(). The host threads meet only to exchange pointers and events; the
// data never leaves the device.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "engine/core/cuda_handles.h"
#include "engine/core/device.h"
#include "engine/replication/communicator.h"

namespace aslnet {

// What the replicas of one process share. Make one, then one InProcessCommunicator per rank.
class InProcessGroup {
 public:
  InProcessGroup(int size, CommOptions options = {});
  int size() const { return size_; }
  const CommOptions& options() const { return options_; }

 private:
  friend class InProcessCommunicator;
  enum class Kind { AllReduceAverage, Broadcast, HostSum };
  struct Contribution {
    bool arrived = false;
    Kind kind = Kind::HostSum;
    Tensor buffer;                          // AllReduceAverage, Broadcast
    std::vector<double>* host = nullptr;    // HostSum
    int root = 0;                           // Broadcast
    cudaStream_t stream = nullptr;          // GPU: where the poster queued its work
    Event ready;                            // GPU: recorded on `stream` when the buffer is written
  };
  struct Collective {
    std::vector<Contribution> ranks;
    int arrived = 0, finished = 0;
    bool done = false;
    Event done_event;  // GPU: recorded after the averaging kernel
  };

  const int size_;
  const CommOptions options_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::map<int64_t, Collective> collectives_;  // by sequence number, while some rank still needs it
  std::string failure_;                        // the first failure reported; empty while healthy
};

class InProcessCommunicator : public Communicator {
 public:
  InProcessCommunicator(std::shared_ptr<InProcessGroup> group, int rank, Device device);

  int rank() const override { return rank_; }
  int size() const override { return group_->size(); }
  std::string name() const override { return "in-process (" + device_.str() + ")"; }

  void start_all_reduce_average(const Tensor& buffer, cudaStream_t stream) override;
  void finish(cudaStream_t stream) override;
  void broadcast(const Tensor& buffer, int root, cudaStream_t stream) override;
  void all_reduce_sum_host(std::vector<double>& values) override;
  void synchronize(cudaStream_t stream) override;
  void abort(const std::string& why) noexcept override;

 private:
  using Kind = InProcessGroup::Kind;
  // Posts this rank's part of its next collective; the last rank to arrive combines. Returns the
  // collective's sequence number.
  int64_t post(InProcessGroup::Contribution mine);
  // Blocks (with the watchdog) until collective `seq` is combined; on a GPU makes `stream` wait for
  // its result. Then lets the group forget it once every rank is through.
  void complete(int64_t seq, cudaStream_t stream);
  void combine(InProcessGroup::Collective& c, int64_t seq);
  [[noreturn]] void fail(std::unique_lock<std::mutex>& lock, const std::string& why);

  std::shared_ptr<InProcessGroup> group_;
  const int rank_;
  const Device device_;
  int64_t next_seq_ = 0;
  std::vector<int64_t> started_;  // all-reduces started and not yet finished
};

// One communicator per rank over a new group: the usual way to make them.
std::vector<std::unique_ptr<Communicator>> make_in_process_communicators(const std::vector<Device>& devices,
                                                                         CommOptions options = {});

}  // namespace aslnet
