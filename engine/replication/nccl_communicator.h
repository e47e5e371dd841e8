// The NCCL communicator: GPU replicas, one rank per GPU, in one process (ncclCommInitAll, one host
// thread per GPU) or one per process (ncclCommInitRank; see launch.cpp for how the unique id travels
// over MPI). Collectives are queued on the stream they are given and return at once: the gradient
// reducer gives them its communication stream, so all-reduces run beside backward's kernels.
//
// The watchdog: a collective whose peer died never completes, and a plain cudaStreamSynchronize would
// hang with it. synchronize() polls the stream and NCCL's asynchronous error state against a deadline;
// past it, the communicator is aborted (ncclCommAbort frees the GPU from the stuck kernel) and a
// PeerFailure names the timeout. PyTorch's ProcessGroupNCCL watchdog does the same.
//
// abort() may come from another thread (a failing replica aborts every replica's communicator), while
// this communicator's own thread is inside an NCCL call on it. ncclCommAbort frees the communicator,
// so every NCCL call on it goes through an AbortGate (abort_gate.h): an abort never runs during a call,
// and one asked for during a call runs as the call ends, on the owner's thread.
//
// Only engine/replication/launch.cpp includes this header (NCCL is an optional dependency).
#pragma once

#include <nccl.h>

#include <vector>

#include "engine/core/buffer.h"
#include "engine/core/cuda_handles.h"
#include "engine/core/device.h"
#include "engine/replication/abort_gate.h"
#include "engine/replication/communicator.h"

#define NCCL_CHECK(call)                                                                              \
  do {                                                                                                \
    ncclResult_t aslnet_status_ = (call);                                                             \
    if (aslnet_status_ != ncclSuccess)                                                                \
      ::aslnet::throw_error(__FILE__, __LINE__, #call,                                                \
                            std::string("NCCL error: ") + ncclGetErrorString(aslnet_status_) + " (" + \
                                ncclGetLastError(nullptr) + ")");                                     \
  } while (0)

namespace aslnet {

class NcclCommunicator : public Communicator {
 public:
  // Takes ownership of `comm`, a communicator for `device`.
  NcclCommunicator(ncclComm_t comm, Device device, CommOptions options = {});
  ~NcclCommunicator() override;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string name() const override { return "nccl"; }

  void start_all_reduce_average(const Tensor& buffer, cudaStream_t stream) override;
  void finish(cudaStream_t) override {}  // stream order already makes the result visible
  void broadcast(const Tensor& buffer, int root, cudaStream_t stream) override;
  // In place: ncclReduceScatter into this rank's chunk with ncclAvg, and ncclAllGather from it.
  void start_reduce_scatter_average(const Tensor& buffer, cudaStream_t stream) override;
  void all_gather(const Tensor& buffer, cudaStream_t stream) override;
  void all_reduce_sum_host(std::vector<double>& values) override;
  void synchronize(cudaStream_t stream) override;
  void abort(const std::string& why) noexcept override;

 private:
  ncclComm_t comm_ = nullptr;
  Device device_;
  int rank_ = 0, size_ = 1;
  CommOptions options_;
  // Every NCCL call on comm_ holds a use of the gate; its abort action is ncclCommAbort.
  AbortGate gate_{[this] { ncclCommAbort(comm_); }};
  // all_reduce_sum_host: the values go through the GPU on a stream of their own.
  Stream host_stream_;
  Buffer host_values_device_;
  static constexpr int kMaxHostValues = 64;
};

// One communicator per GPU of this process (ncclCommInitAll): `devices` must be distinct.
std::vector<std::unique_ptr<Communicator>> make_nccl_communicators(const std::vector<Device>& devices,
                                                                   CommOptions options);

}  // namespace aslnet
