#include "engine/replication/nccl_communicator.h"

#include <chrono>
#include <thread>

#include "engine/core/cuda_check.h"

namespace aslnet {

NcclCommunicator::NcclCommunicator(ncclComm_t comm, Device device, CommOptions options)
    : comm_(comm), device_(device), options_(options) {
  ASLNET_CHECK(device.is_cuda()) << "an NCCL communicator needs a GPU, not " << device.str();
  NCCL_CHECK(ncclCommUserRank(comm_, &rank_));
  NCCL_CHECK(ncclCommCount(comm_, &size_));
  CUDA_CHECK(cudaSetDevice(device.index));
  host_stream_ = make_stream();
  host_values_device_ = Buffer::device(kMaxHostValues * sizeof(double), device.index);
}

NcclCommunicator::~NcclCommunicator() {
  // No call can be in flight here (the replica threads have been joined), so an abort that was asked
  // for has run, and the communicator is already freed.
  if (comm_ != nullptr && !gate_.aborted()) {
    const ncclResult_t status = ncclCommDestroy(comm_);
    if (status != ncclSuccess) ASLNET_LOG_ERROR(std::string("ncclCommDestroy: ") + ncclGetErrorString(status));
  }
}

void NcclCommunicator::start_all_reduce_average(const Tensor& buffer, cudaStream_t stream) {
  ASLNET_CHECK(buffer.device() == device_ && buffer.dtype() == DType::F32)
      << "NCCL all-reduce of " << dtype_name(buffer.dtype()) << " on " << buffer.device().str() << " (rank on "
      << device_.str() << ", f32 only)";
  // ncclAvg: NCCL sums and divides by the rank count in one pass.
  auto use = gate_.use();
  NCCL_CHECK(ncclAllReduce(buffer.raw(), buffer.raw(), size_t(buffer.numel()), ncclFloat32, ncclAvg, comm_, stream));
}

void NcclCommunicator::start_reduce_scatter_average(const Tensor& buffer, cudaStream_t stream) {
  ASLNET_CHECK(buffer.device() == device_ && buffer.dtype() == DType::F32)
      << "NCCL reduce-scatter of " << dtype_name(buffer.dtype()) << " on " << buffer.device().str() << " (rank on "
      << device_.str() << ", f32 only)";
  ASLNET_CHECK(buffer.numel() % size_ == 0)
      << "a reduce-scatter of " << buffer.numel() << " values over " << size_ << " ranks (a multiple of the ranks)";
  const size_t chunk = size_t(buffer.numel() / size_);
  if (chunk == 0) return;
  // In place, as NCCL defines it: the result lands at sendbuff + rank * recvcount.
  float* data = buffer.data<float>();
  auto use = gate_.use();
  NCCL_CHECK(ncclReduceScatter(data, data + size_t(rank_) * chunk, chunk, ncclFloat32, ncclAvg, comm_, stream));
}

void NcclCommunicator::all_gather(const Tensor& buffer, cudaStream_t stream) {
  ASLNET_CHECK(buffer.device() == device_)
      << "NCCL all-gather on " << buffer.device().str() << " (rank on " << device_.str() << ")";
  ASLNET_CHECK(buffer.numel() % size_ == 0)
      << "an all-gather of " << buffer.numel() << " values over " << size_ << " ranks (a multiple of the ranks)";
  const size_t chunk = buffer.bytes() / size_t(size_);
  if (chunk == 0) return;
  // In place: this rank's part is already at recvbuff + rank * sendcount.
  char* data = static_cast<char*>(buffer.raw());
  auto use = gate_.use();
  NCCL_CHECK(ncclAllGather(data + size_t(rank_) * chunk, data, chunk, ncclUint8, comm_, stream));
}

void NcclCommunicator::broadcast(const Tensor& buffer, int root, cudaStream_t stream) {
  auto use = gate_.use();
  NCCL_CHECK(ncclBroadcast(buffer.raw(), buffer.raw(), buffer.bytes(), ncclUint8, root, comm_, stream));
}

void NcclCommunicator::all_reduce_sum_host(std::vector<double>& values) {
  ASLNET_CHECK(values.size() <= size_t(kMaxHostValues)) << "a host all-reduce of " << values.size() << " values";
  const size_t bytes = values.size() * sizeof(double);
  cudaStream_t s = host_stream_.get();
  CUDA_CHECK(cudaMemcpyAsync(host_values_device_.data(), values.data(), bytes, cudaMemcpyHostToDevice, s));
  {
    auto use = gate_.use();
    NCCL_CHECK(ncclAllReduce(host_values_device_.data(), host_values_device_.data(), values.size(), ncclFloat64,
                             ncclSum, comm_, s));
  }
  CUDA_CHECK(cudaMemcpyAsync(values.data(), host_values_device_.data(), bytes, cudaMemcpyDeviceToHost, s));
  synchronize(s);
}

void NcclCommunicator::synchronize(cudaStream_t stream) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(options_.timeout_seconds);
  for (int spins = 0;; ++spins) {
    ncclResult_t async = ncclSuccess;
    {
      // One use per poll, never one across the wait: a peer's abort runs between two polls (on the
      // peer's thread) or as this poll ends (on this one), and the next use() throws its PeerFailure.
      auto use = gate_.use();
      const cudaError_t state = cudaStreamQuery(stream);
      if (state == cudaSuccess) return;
      if (state != cudaErrorNotReady) CUDA_CHECK(state);
      NCCL_CHECK(ncclCommGetAsyncError(comm_, &async));
    }
    if (async != ncclSuccess) {
      const std::string why = "rank " + std::to_string(rank_) + ": NCCL reported " + ncclGetErrorString(async) +
                              " (a peer failed or the network broke)";
      abort(why);
      throw PeerFailure(why);
    }
    if (std::chrono::steady_clock::now() > deadline) {
      const std::string why = "rank " + std::to_string(rank_) + ": a collective waited " +
                              std::to_string(int(options_.timeout_seconds)) +
                              " s for the other ranks (one stopped or hung?)";
      abort(why);
      throw PeerFailure(why);
    }
    // Spin briefly (steps end within microseconds of the check), then yield the core.
    if (spins > 1000) std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
}

// ncclCommAbort frees the GPU from a collective that will never complete; the communicator is unusable
// after. The gate runs it now if this communicator's thread is not inside an NCCL call on it, else as
// that call ends.
void NcclCommunicator::abort(const std::string& why) noexcept { gate_.abort(why); }

std::vector<std::unique_ptr<Communicator>> make_nccl_communicators(const std::vector<Device>& devices,
                                                                   CommOptions options) {
  std::vector<int> list;
  for (const Device& d : devices) {
    ASLNET_CHECK(d.is_cuda()) << "NCCL replicas need GPUs, got " << d.str();
    for (int seen : list)
      ASLNET_CHECK(seen != d.index) << "cuda:" << d.index
                                    << " appears twice: NCCL needs one GPU per rank (replicas sharing a GPU use "
                                       "the in-process communicator)";
    list.push_back(d.index);
  }
  std::vector<ncclComm_t> comms(devices.size());
  NCCL_CHECK(ncclCommInitAll(comms.data(), int(comms.size()), list.data()));
  std::vector<std::unique_ptr<Communicator>> out;
  for (size_t i = 0; i < devices.size(); ++i)
    out.push_back(std::make_unique<NcclCommunicator>(comms[i], devices[i], options));
  return out;
}

}  // namespace aslnet
