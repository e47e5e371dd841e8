#include "engine/replication/in_process.h"

#include <chrono>
#include <cstring>

#include "engine/core/cuda_check.h"
#include "kernels/replica_average.h"

namespace aslnet {

namespace {

const char* kind_name(int kind) {
  static const char* names[] = {"all-reduce", "broadcast", "host sum", "reduce-scatter", "all-gather"};
  return names[kind];
}

}  // namespace

InProcessGroup::InProcessGroup(int size, CommOptions options, AllReduceAlgorithm algorithm)
    : size_(size), options_(options), algorithm_(algorithm) {
  ASLNET_CHECK(size >= 1) << "a replica group needs at least one replica, got " << size;
  ASLNET_CHECK(size <= kernels::kMaxSharedReplicas)
      << "at most " << kernels::kMaxSharedReplicas << " replicas can share a process's address space, got " << size;
}

InProcessCommunicator::InProcessCommunicator(std::shared_ptr<InProcessGroup> group, int rank, Device device)
    : group_(std::move(group)), rank_(rank), device_(device) {
  ASLNET_CHECK(rank >= 0 && rank < group_->size()) << "rank " << rank << " outside a group of " << group_->size();
}

void InProcessCommunicator::fail(std::unique_lock<std::mutex>& lock, const std::string& why) {
  if (group_->failure_.empty()) group_->failure_ = why;
  group_->changed_.notify_all();
  throw PeerFailure(group_->failure_);
}

int64_t InProcessCommunicator::post(InProcessGroup::Contribution mine) {
  if (mine.buffer.defined()) {
    ASLNET_CHECK(mine.buffer.device() == device_)
        << "replica " << rank_ << " lives on " << device_.str() << ", its buffer on " << mine.buffer.device().str();
    if (device_.is_cuda() && group_->size() > 1) {
      // The buffer is final once the work queued so far on `stream` has run.
      mine.ready = make_event();
      CUDA_CHECK(cudaEventRecord(mine.ready.get(), mine.stream));
    }
  }
  mine.arrived = true;
  const int64_t seq = next_seq_++;
  // A ring all-reduce is not combined here: every rank does its own part in finish() (ring_all_reduce).
  const bool ring = group_->algorithm() == AllReduceAlgorithm::Ring && mine.kind != Kind::Broadcast &&
                    mine.kind != Kind::HostSum && group_->size() > 1;
  InProcessGroup::Collective* c;
  {
    std::unique_lock<std::mutex> lock(group_->mutex_);
    if (!group_->failure_.empty()) throw PeerFailure(group_->failure_);
    c = &group_->collectives_[seq];
    if (c->ranks.empty()) {
      c->ranks.resize(size_t(group_->size()));
      c->steps_done.assign(size_t(group_->size()), 0);
    }
    c->ranks[size_t(rank_)] = std::move(mine);
    c->ring = c->ring || ring;
    if (++c->arrived < group_->size()) return seq;
    if (c->ring) {
      // The last to arrive wakes the ranks waiting in ring_all_reduce for everyone's buffer; what the
      // ranks posted is checked there, by each of them, before any step.
      group_->changed_.notify_all();
      return seq;
    }
  }
  // The last to arrive does the arithmetic for everyone, outside the lock (it may take milliseconds);
  // the others wait in complete() or carry on with their backward.
  try {
    combine(*c, seq);
  } catch (const PeerFailure&) {
    throw;
  } catch (const std::exception& e) {
    std::unique_lock<std::mutex> lock(group_->mutex_);
    fail(lock, "replica " + std::to_string(rank_) + " failed in collective #" + std::to_string(seq) + ": " + e.what());
  }
  std::lock_guard<std::mutex> lock(group_->mutex_);
  c->done = true;
  group_->changed_.notify_all();
  return seq;
}

void InProcessCommunicator::check_same(const InProcessGroup::Collective& c, int64_t seq) {
  const auto& first = c.ranks[0];
  for (int r = 1; r < group_->size(); ++r) {
    const auto& other = c.ranks[size_t(r)];
    const bool same = other.kind == first.kind && other.buffer.numel() == first.buffer.numel() &&
                      other.buffer.dtype() == first.buffer.dtype() && other.root == first.root &&
                      (first.host == nullptr || other.host->size() == first.host->size());
    if (!same) {
      std::unique_lock<std::mutex> lock(group_->mutex_);
      fail(lock, "collective #" + std::to_string(seq) + " differs between replicas: replica 0 called " +
                     kind_name(int(first.kind)) + " of " + std::to_string(first.buffer.numel()) + " values, replica " +
                     std::to_string(r) + " " + kind_name(int(other.kind)) + " of " +
                     std::to_string(other.buffer.numel()) + " (every replica must call the same collectives in order)");
    }
  }
}

void InProcessCommunicator::combine(InProcessGroup::Collective& c, int64_t seq) {
  check_same(c, seq);
  const auto& first = c.ranks[0];
  if (first.kind == Kind::HostSum) {
    for (size_t i = 0; i < first.host->size(); ++i) {
      double sum = 0.0;
      for (const auto& r : c.ranks) sum += (*r.host)[i];
      for (const auto& r : c.ranks) (*r.host)[i] = sum;
    }
    return;
  }
  // Alone, a replica's average and broadcast are its own buffer: nothing to compute or to wait for.
  if (group_->size() == 1) return;
  kernels::ReplicaBuffers buffers;
  buffers.count = group_->size();
  for (int r = 0; r < buffers.count; ++r) buffers.data[r] = c.ranks[size_t(r)].buffer.raw();
  const int64_t count = first.buffer.numel();
  if (!device_.is_cuda()) {
    if (first.kind == Kind::Broadcast) {
      for (int r = 0; r < buffers.count; ++r)
        if (r != first.root) std::memcpy(buffers.data[r], buffers.data[first.root], first.buffer.bytes());
    } else if (first.buffer.dtype() == DType::F64) {
      kernels::cpu::average_replicas<double>(buffers, 0, count);
    } else {
      ASLNET_CHECK(first.buffer.dtype() == DType::F32) << "all-reduce of " << dtype_name(first.buffer.dtype());
      kernels::cpu::average_replicas<float>(buffers, 0, count);
    }
    return;
  }
  // GPU: this rank's stream waits until every replica's buffer is written, then does the work.
  cudaStream_t stream = c.ranks[size_t(rank_)].stream;
  for (const auto& r : c.ranks) CUDA_CHECK(cudaStreamWaitEvent(stream, r.ready.get(), 0));
  if (first.kind == Kind::Broadcast) {
    for (int r = 0; r < buffers.count; ++r)
      if (r != first.root)
        CUDA_CHECK(cudaMemcpyAsync(buffers.data[r], buffers.data[first.root], first.buffer.bytes(),
                                   cudaMemcpyDeviceToDevice, stream));
  } else {
    ASLNET_CHECK(first.buffer.dtype() == DType::F32) << "GPU all-reduce of " << dtype_name(first.buffer.dtype());
    kernels::cuda::average_replicas(stream, buffers, 0, count);
  }
  c.done_event = make_event();
  CUDA_CHECK(cudaEventRecord(c.done_event.get(), stream));
}

void InProcessCommunicator::complete(int64_t seq, cudaStream_t stream) {
  std::unique_lock<std::mutex> lock(group_->mutex_);
  auto& c = group_->collectives_.at(seq);
  if (c.ring) {  // set by this rank's own post: every rank does its part of the ring
    lock.unlock();
    ring_all_reduce(seq);
    return;
  }
  const auto timeout = std::chrono::duration<double>(group_->options_.timeout_seconds);
  const bool ended = group_->changed_.wait_for(lock, timeout, [&] { return c.done || !group_->failure_.empty(); });
  if (!group_->failure_.empty()) throw PeerFailure(group_->failure_);
  if (!ended) {
    std::string missing;
    for (int r = 0; r < group_->size(); ++r)
      if (!c.ranks[size_t(r)].arrived) missing += (missing.empty() ? "" : ", ") + std::to_string(r);
    fail(lock, "replica " + std::to_string(rank_) + " waited " + std::to_string(int(timeout.count())) +
                   " s in collective #" + std::to_string(seq) + " for replica(s) " + missing +
                   ", which never arrived (stopped or hung?)");
  }
  // Stream-ordered: this rank's later work waits for the result on the device, not on the host.
  if (c.done_event) CUDA_CHECK(cudaStreamWaitEvent(stream, c.done_event.get(), 0));
  if (++c.finished == group_->size()) group_->collectives_.erase(seq);
}

void InProcessCommunicator::start_all_reduce_average(const Tensor& buffer, cudaStream_t stream) {
  InProcessGroup::Contribution mine;
  mine.kind = Kind::AllReduceAverage;
  mine.buffer = buffer;
  mine.stream = stream;
  started_.push_back(post(std::move(mine)));
}

void InProcessCommunicator::finish(cudaStream_t stream) {
  for (int64_t seq : started_) complete(seq, stream);
  started_.clear();
}

void InProcessCommunicator::broadcast(const Tensor& buffer, int root, cudaStream_t stream) {
  ASLNET_CHECK(root >= 0 && root < size()) << "broadcast from rank " << root << " in a group of " << size();
  InProcessGroup::Contribution mine;
  mine.kind = Kind::Broadcast;
  mine.buffer = buffer;
  mine.root = root;
  mine.stream = stream;
  complete(post(std::move(mine)), stream);
}

void InProcessCommunicator::all_reduce_sum_host(std::vector<double>& values) {
  InProcessGroup::Contribution mine;
  mine.kind = Kind::HostSum;
  mine.host = &values;
  complete(post(std::move(mine)), nullptr);
}

void InProcessCommunicator::synchronize(cudaStream_t stream) {
  // Every wait queued on a stream here is for an event already recorded, so a plain synchronisation
  // cannot hang on a dead peer.
  if (device_.is_cuda()) CUDA_CHECK(cudaStreamSynchronize(stream));
}

void InProcessCommunicator::abort(const std::string& why) noexcept {
  std::lock_guard<std::mutex> lock(group_->mutex_);
  if (group_->failure_.empty()) group_->failure_ = why;
  group_->changed_.notify_all();
}

std::vector<std::unique_ptr<Communicator>> make_in_process_communicators(const std::vector<Device>& devices,
                                                                         CommOptions options,
                                                                         AllReduceAlgorithm algorithm) {
  for (size_t i = 1; i < devices.size(); ++i)
    ASLNET_CHECK(devices[i] == devices[0]) << "in-process replicas must share one device (or all be on the CPU): "
                                           << devices[0].str() << " and " << devices[i].str();
  ASLNET_CHECK(algorithm != AllReduceAlgorithm::Ring || devices.empty() || devices[0].is_cpu())
      << "--allreduce ring is implemented for CPU replicas only (--device cpu --replicas N); replicas sharing "
      << devices[0].str() << " use --allreduce central";
  auto group = std::make_shared<InProcessGroup>(int(devices.size()), options, algorithm);
  std::vector<std::unique_ptr<Communicator>> comms;
  for (size_t i = 0; i < devices.size(); ++i)
    comms.push_back(std::make_unique<InProcessCommunicator>(group, int(i), devices[i]));
  return comms;
}

}  // namespace aslnet
