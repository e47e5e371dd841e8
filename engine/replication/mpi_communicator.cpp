#include "engine/replication/mpi_communicator.h"

#include <chrono>
#include <climits>
#include <cstdio>
#include <cstring>
#include <thread>

#include "engine/replication/sum_to_average.h"

namespace aslnet {

namespace {

MPI_Datatype mpi_type(DType dtype) {
  if (dtype == DType::F32) return MPI_FLOAT;
  ASLNET_CHECK(dtype == DType::F64) << "MPI all-reduce of " << dtype_name(dtype) << " (f32 or f64 only)";
  return MPI_DOUBLE;
}

int mpi_count(const Tensor& buffer) {
  ASLNET_CHECK(buffer.numel() <= INT_MAX) << "an MPI message of " << buffer.numel() << " values is too long";
  ASLNET_CHECK(buffer.device().is_cpu()) << "the MPI communicator moves CPU buffers; GPU runs use NCCL";
  return int(buffer.numel());
}

}  // namespace

MpiCommunicator::MpiCommunicator(MPI_Comm comm, CommOptions options) : options_(options) {
  MPI_CHECK(MPI_Comm_dup(comm, &comm_));
  MPI_CHECK(MPI_Comm_rank(comm_, &rank_));
  MPI_CHECK(MPI_Comm_size(comm_, &size_));
}

MpiCommunicator::~MpiCommunicator() {
  if (comm_ != MPI_COMM_NULL && pending_.empty()) MPI_Comm_free(&comm_);
}

void MpiCommunicator::wait(MPI_Request& request, const char* what) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(options_.timeout_seconds);
  for (int spins = 0;; ++spins) {
    int done = 0;
    MPI_CHECK(MPI_Test(&request, &done, MPI_STATUS_IGNORE));
    if (done) return;
    if (std::chrono::steady_clock::now() > deadline)
      abort("rank " + std::to_string(rank_) + ": " + what + " waited " + std::to_string(int(options_.timeout_seconds)) +
            " s for the other ranks (one stopped or hung?)");
    // Keep calling MPI_Test (Open MPI moves the transfer on only inside MPI calls): yield between tries,
    // and sleep only once the wait is long (a peer validating), so as not to burn a core for minutes.
    if (spins > 1000) std::this_thread::yield();
    if (spins > 200000) std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
}

void MpiCommunicator::start_all_reduce_average(const Tensor& buffer, cudaStream_t) {
  // Let the collectives already in flight move on (Open MPI progresses them only inside MPI calls).
  for (auto& p : pending_) {
    int done = 0;
    MPI_CHECK(MPI_Test(&p.request, &done, MPI_STATUS_IGNORE));
  }
  Pending p{MPI_REQUEST_NULL, buffer};
  MPI_CHECK(MPI_Iallreduce(MPI_IN_PLACE, buffer.raw(), mpi_count(buffer), mpi_type(buffer.dtype()), MPI_SUM, comm_,
                           &p.request));
  pending_.push_back(p);
}

void MpiCommunicator::start_reduce_scatter_average(const Tensor& buffer, cudaStream_t) {
  const int count = mpi_count(buffer);
  ASLNET_CHECK(count % size_ == 0) << "a reduce-scatter of " << count << " values over " << size_
                                   << " ranks (a multiple of the ranks)";
  for (auto& p : pending_) {
    int done = 0;
    MPI_CHECK(MPI_Test(&p.request, &done, MPI_STATUS_IGNORE));
  }
  const int64_t chunk = count / size_;
  if (chunk == 0) return;
  Pending p{MPI_REQUEST_NULL, buffer, true};
  MPI_CHECK(MPI_Ireduce_scatter_block(MPI_IN_PLACE, buffer.raw(), int(chunk), mpi_type(buffer.dtype()), MPI_SUM, comm_,
                                      &p.request));
  pending_.push_back(p);
}

void MpiCommunicator::all_gather(const Tensor& buffer, cudaStream_t) {
  const int count = mpi_count(buffer);
  ASLNET_CHECK(count % size_ == 0) << "an all-gather of " << count << " values over " << size_
                                   << " ranks (a multiple of the ranks)";
  const size_t chunk_bytes = buffer.bytes() / size_t(size_);
  if (chunk_bytes == 0) return;
  ASLNET_CHECK(chunk_bytes <= size_t(INT_MAX)) << "an all-gather of " << buffer.bytes() << " bytes is too long";
  MPI_Request request;
  MPI_CHECK(
      MPI_Iallgather(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, buffer.raw(), int(chunk_bytes), MPI_BYTE, comm_, &request));
  wait(request, "an all-gather of weights");
}

void MpiCommunicator::finish(cudaStream_t) {
  for (auto& p : pending_) {
    if (p.scatter) {
      const int64_t chunk = p.buffer.numel() / size_;
      wait(p.request, "a reduce-scatter of gradients");
      const Tensor mine = p.buffer.slice(rank_ * chunk, Shape{chunk});
      if (rank_ != 0) std::memmove(mine.raw(), p.buffer.raw(), mine.bytes());
      sum_to_average(mine, size_);
      continue;
    }
    wait(p.request, "an all-reduce of gradients");
    // MPI sums; the average divides once, on every rank alike.
    sum_to_average(p.buffer, size_);
  }
  pending_.clear();
}

void MpiCommunicator::broadcast(const Tensor& buffer, int root, cudaStream_t) {
  ASLNET_CHECK(buffer.bytes() <= size_t(INT_MAX)) << "a broadcast of " << buffer.bytes() << " bytes is too long";
  MPI_Request request;
  MPI_CHECK(MPI_Ibcast(buffer.raw(), int(buffer.bytes()), MPI_BYTE, root, comm_, &request));
  wait(request, "a broadcast");
}

void MpiCommunicator::all_reduce_sum_host(std::vector<double>& values) {
  MPI_Request request;
  MPI_CHECK(MPI_Iallreduce(MPI_IN_PLACE, values.data(), int(values.size()), MPI_DOUBLE, MPI_SUM, comm_, &request));
  wait(request, "a host all-reduce");
}

void MpiCommunicator::abort(const std::string& why) noexcept {
  std::fprintf(stderr, "error: %s\n", why.c_str());
  std::fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, 1);
}

}  // namespace aslnet
