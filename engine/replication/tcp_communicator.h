// The TCP communicator: CPU replicas in separate processes started by torchrun or srun, with no MPI
// (`torchrun --nproc_per_node 2 --no_python aslnet train ... --device cpu`). Its collectives are
// TcpRing's (tcp_ring.h: the ring all-reduce, written out); this class adds what the Communicator
// interface asks on top: averages, names, the rank in abort messages.
//
// Collectives run when they are called: start_all_reduce_average returns with the buffer averaged,
// and finish() has nothing left to wait for. (The reducer still starts buckets during backward; they
// just do not overlap with it.)
#pragma once

#include <memory>
#include <string>

#include "engine/replication/communicator.h"
#include "engine/replication/tcp_ring.h"

namespace aslnet {

class TcpCommunicator : public Communicator {
 public:
  // `launcher` ("torchrun", "srun") goes into name(), which the run's first line shows.
  TcpCommunicator(std::shared_ptr<TcpRing> ring, std::string launcher);

  int rank() const override { return ring_->rank(); }
  int size() const override { return ring_->size(); }
  std::string name() const override { return "tcp ring, " + launcher_; }

  void start_all_reduce_average(const Tensor& buffer, cudaStream_t stream) override;
  void finish(cudaStream_t) override {}
  void broadcast(const Tensor& buffer, int root, cudaStream_t stream) override;
  // The ring's own phases: half an all-reduce's bytes each (run when called, as the all-reduce).
  void start_reduce_scatter_average(const Tensor& buffer, cudaStream_t stream) override;
  void all_gather(const Tensor& buffer, cudaStream_t stream) override;
  void all_reduce_sum_host(std::vector<double>& values) override;
  void synchronize(cudaStream_t) override {}
  void abort(const std::string& why) noexcept override;

 private:
  std::shared_ptr<TcpRing> ring_;
  std::string launcher_;
};

}  // namespace aslnet
