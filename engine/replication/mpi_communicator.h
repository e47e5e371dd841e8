// The MPI communicator: CPU replicas in separate processes (`mpirun -np N aslnet train --device cpu`),
// on one machine or many. Collectives are MPI's non-blocking ones (MPI_Iallreduce, MPI_Ibcast), so
// the reducer can start a bucket and go on with backward; finish() waits for them by polling
// MPI_Test against the watchdog's deadline. Open MPI moves a non-blocking collective forward only
// inside MPI calls, so each start also tests the collectives already in flight.
//
// Only engine/replication/launch.cpp includes this header (MPI is an optional dependency).
#pragma once

#include <mpi.h>

#include <vector>

#include "engine/replication/communicator.h"

#define MPI_CHECK(call)                                                                   \
  do {                                                                                    \
    int aslnet_status_ = (call);                                                          \
    if (aslnet_status_ != MPI_SUCCESS) {                                                  \
      char aslnet_text_[MPI_MAX_ERROR_STRING];                                            \
      int aslnet_length_ = 0;                                                             \
      MPI_Error_string(aslnet_status_, aslnet_text_, &aslnet_length_);                    \
      ::aslnet::throw_error(__FILE__, __LINE__, #call,                                    \
                            std::string("MPI error: ") + std::string(aslnet_text_, size_t(aslnet_length_))); \
    }                                                                                     \
  } while (0)

namespace aslnet {

class MpiCommunicator : public Communicator {
 public:
  // Duplicates `comm`, so the engine's traffic never mixes with anyone else's.
  MpiCommunicator(MPI_Comm comm, CommOptions options = {});
  ~MpiCommunicator() override;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string name() const override { return "mpi"; }

  void start_all_reduce_average(const Tensor& buffer, cudaStream_t stream) override;
  void finish(cudaStream_t stream) override;
  void broadcast(const Tensor& buffer, int root, cudaStream_t stream) override;
  // MPI_Ireduce_scatter_block (completed by finish(), like the all-reduces) and MPI_Iallgather.
  void start_reduce_scatter_average(const Tensor& buffer, cudaStream_t stream) override;
  void all_gather(const Tensor& buffer, cudaStream_t stream) override;
  void all_reduce_sum_host(std::vector<double>& values) override;
  void synchronize(cudaStream_t) override {}
  // Prints `why` and ends every rank of the job (MPI_Abort): MPI cannot cancel a collective.
  void abort(const std::string& why) noexcept override;

  // Waits for `request` with the watchdog; `what` names the collective in the timeout's message.
  void wait(MPI_Request& request, const char* what);

 private:
  struct Pending {
    MPI_Request request;
    Tensor buffer;  // what finish() averages
    // A reduce-scatter: MPI leaves this rank's sums at the front of the buffer; finish() moves them to
    // chunk rank(), where the interface puts them.
    bool scatter = false;
  };
  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0, size_ = 1;
  CommOptions options_;
  std::vector<Pending> pending_;
};

}  // namespace aslnet
