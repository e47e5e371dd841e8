#include "engine/replication/tcp_communicator.h"

#include "engine/replication/sum_to_average.h"

namespace aslnet {

TcpCommunicator::TcpCommunicator(std::shared_ptr<TcpRing> ring, std::string launcher)
    : ring_(std::move(ring)), launcher_(std::move(launcher)) {}

void TcpCommunicator::start_all_reduce_average(const Tensor& buffer, cudaStream_t) {
  ASLNET_CHECK(buffer.device().is_cpu()) << "the TCP communicator moves CPU buffers; GPU ranks use NCCL";
  if (buffer.dtype() == DType::F64) {
    ring_->all_reduce_sum(buffer.data<double>(), buffer.numel(), "an all-reduce of gradients");
  } else {
    ASLNET_CHECK(buffer.dtype() == DType::F32)
        << "TCP all-reduce of " << dtype_name(buffer.dtype()) << " (f32 or f64 only)";
    ring_->all_reduce_sum(buffer.data<float>(), buffer.numel(), "an all-reduce of gradients");
  }
  sum_to_average(buffer, size());
}

void TcpCommunicator::start_reduce_scatter_average(const Tensor& buffer, cudaStream_t) {
  ASLNET_CHECK(buffer.device().is_cpu()) << "the TCP communicator moves CPU buffers; GPU ranks use NCCL";
  const int64_t chunk = buffer.numel() / size();
  if (buffer.dtype() == DType::F64) {
    ring_->reduce_scatter_sum(buffer.data<double>(), buffer.numel(), "a reduce-scatter of gradients");
  } else {
    ASLNET_CHECK(buffer.dtype() == DType::F32)
        << "TCP reduce-scatter of " << dtype_name(buffer.dtype()) << " (f32 or f64 only)";
    ring_->reduce_scatter_sum(buffer.data<float>(), buffer.numel(), "a reduce-scatter of gradients");
  }
  if (chunk > 0) sum_to_average(buffer.slice(rank() * chunk, Shape{chunk}), size());
}

void TcpCommunicator::all_gather(const Tensor& buffer, cudaStream_t) {
  ASLNET_CHECK(buffer.device().is_cpu()) << "the TCP communicator moves CPU buffers; GPU ranks use NCCL";
  ASLNET_CHECK(buffer.numel() % size() == 0)
      << "an all-gather of " << buffer.numel() << " values over " << size() << " ranks (a multiple of the ranks)";
  ring_->all_gather(buffer.raw(), buffer.bytes(), "an all-gather of weights");
}

void TcpCommunicator::broadcast(const Tensor& buffer, int root, cudaStream_t) {
  ASLNET_CHECK(buffer.device().is_cpu()) << "the TCP communicator moves CPU buffers; GPU ranks use NCCL";
  ring_->broadcast(buffer.raw(), buffer.bytes(), root, "a broadcast");
}

void TcpCommunicator::all_reduce_sum_host(std::vector<double>& values) {
  ring_->all_reduce_sum(values.data(), int64_t(values.size()), "a host all-reduce");
}

void TcpCommunicator::abort(const std::string& why) noexcept {
  // The peers print what they are told: make it say which rank failed.
  ring_->abort(why.rfind("rank ", 0) == 0 ? why : "rank " + std::to_string(rank()) + ": " + why);
}

}  // namespace aslnet
