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
//
// That is the central algorithm, the default. With AllReduceAlgorithm::Ring (`--allreduce ring`, CPU
// replicas only) the all-reduces instead run as a ring in finish(): each replica's own thread sums one
// segment, in 2(n - 1) steps with a barrier between them (in_process_ring.h says how and why, and
// in_process_ring.cpp does it). Broadcasts and host sums stay central whatever the algorithm.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "engine/core/cuda_handles.h"
#include "engine/core/device.h"
#include "engine/replication/communicator.h"
#include "engine/replication/in_process_ring.h"

namespace aslnet {

// What the replicas of one process share. Make one, then one InProcessCommunicator per rank.
class InProcessGroup {
 public:
  // `algorithm`: how all-reduces are computed (broadcasts and host sums are always central). The ring
  // is for CPU replicas; make_in_process_communicators refuses it on a GPU.
  InProcessGroup(int size, CommOptions options = {}, AllReduceAlgorithm algorithm = AllReduceAlgorithm::Central);
  int size() const { return size_; }
  const CommOptions& options() const { return options_; }
  AllReduceAlgorithm algorithm() const { return algorithm_; }

 private:
  friend class InProcessCommunicator;
  // ReduceScatterAverage and AllGather: posted only by the ring (the central algorithm leaves them to
  // Communicator's defaults, made of all-reduces and broadcasts).
  enum class Kind { AllReduceAverage, Broadcast, HostSum, ReduceScatterAverage, AllGather };
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
    // Ring all-reduces (in_process_ring.cpp): each replica's own thread does its part in finish().
    bool ring = false;
    std::vector<int> steps_done;  // per rank: ring steps completed (the barriers wait on the minimum)
  };

  const int size_;
  const CommOptions options_;
  const AllReduceAlgorithm algorithm_;
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
  // "in-process (cpu)"; the ring says so: "in-process ring (cpu)".
  std::string name() const override {
    return std::string(group_->algorithm() == AllReduceAlgorithm::Ring ? "in-process ring (" : "in-process (") +
           device_.str() + ")";
  }

  void start_all_reduce_average(const Tensor& buffer, cudaStream_t stream) override;
  void finish(cudaStream_t stream) override;
  void broadcast(const Tensor& buffer, int root, cudaStream_t stream) override;
  // The ring's two phases on their own (in_process_ring.cpp), for --zero 1: rank r ends with chunk r
  // averaged, then the chunks are copied around. With the central algorithm: Communicator's defaults.
  void start_reduce_scatter_average(const Tensor& buffer, cudaStream_t stream) override;
  void all_gather(const Tensor& buffer, cudaStream_t stream) override;
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
  // Stops the group (every rank's wait) when the ranks' parts of collective `seq` disagree.
  void check_same(const InProcessGroup::Collective& c, int64_t seq);
  // The ring (in_process_ring.cpp): this rank's 2(n - 1) steps of ring all-reduce `seq` (or the n - 1 of
  // a reduce-scatter or an all-gather), then the wait until every rank is through; called by complete()
  // in place of waiting for the central sum.
  void ring_all_reduce(int64_t seq);
  // Waits (with the watchdog) until `ready` holds; `what` and `laggards` word the timeout's error.
  void wait_for_peers(std::unique_lock<std::mutex>& lock, const std::function<bool()>& ready, const std::string& what,
                      const std::function<std::string()>& laggards);
  [[noreturn]] void fail(std::unique_lock<std::mutex>& lock, const std::string& why);

  std::shared_ptr<InProcessGroup> group_;
  const int rank_;
  const Device device_;
  int64_t next_seq_ = 0;
  std::vector<int64_t> started_;  // all-reduces started and not yet finished
};

// One communicator per rank over a new group: the usual way to make them.
// `algorithm`: Ring only for CPU replicas (refused on a GPU with a message saying so).
std::vector<std::unique_ptr<Communicator>> make_in_process_communicators(
    const std::vector<Device>& devices, CommOptions options = {},
    AllReduceAlgorithm algorithm = AllReduceAlgorithm::Central);

}  // namespace aslnet
