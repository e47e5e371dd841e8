// Communicator: how replicas of a data-parallel run talk. One object per replica (a rank); every rank
// must call the same collectives in the same order, as with MPI and NCCL.
//
// Three implementations, one interface (engine/replication/launch.h makes them):
//   - NCCL, for GPU buffers, one rank per GPU, in one process (ncclCommInitAll) or one per process
//     (ncclCommInitRank, the unique id broadcast over MPI);
//   - MPI, for CPU buffers across processes (`mpirun -np N aslnet train --device cpu`);
//   - in-process, for replicas that share an address space: CPU replicas on threads of one process,
//     and several replicas on one GPU (which NCCL refuses).
//
// Collectives are split into start and finish so the gradient reducer can overlap them with
// backward. GPU communicators queue their work on the stream they are given and return at once; the
// stream's later work sees the result. CPU communicators (no streams) may return from start before
// the data is averaged; finish() blocks until every collective this rank started is complete.
//
// Every wait has a watchdog: a peer that stops answering ends the wait with a PeerFailure naming the
// collective and the timeout, never a hang; a replica that fails tells its peers (abort), so they stop
// at once with its reason.
#pragma once

#include <string>
#include <vector>

#include "engine/core/error.h"
#include "engine/core/gpu_types.h"
#include "engine/core/tensor.h"

namespace aslnet {

// A peer failed, stopped answering, or aborted the run.
class PeerFailure : public Error {
 public:
  using Error::Error;
};

struct CommOptions {
  // How long any wait on peers may last. Long enough for rank 0's validation pass, which the other
  // ranks wait out at their next collective (PyTorch's default for NCCL is the same ten minutes).
  double timeout_seconds = 600.0;
};

class Communicator {
 public:
  virtual ~Communicator() = default;

  virtual int rank() const = 0;
  virtual int size() const = 0;
  // "nccl", "mpi", "in-process (cpu)", "in-process (cuda:0)": for logs and errors.
  virtual std::string name() const = 0;

  // Starts replacing `buffer` (f32 on a GPU; f32 or f64 on the CPU) by its average over all ranks.
  // `stream`: where GPU work is queued (ignored by CPU communicators).
  virtual void start_all_reduce_average(const Tensor& buffer, cudaStream_t stream) = 0;
  // Completes every collective this rank started: CPU communicators block until the data is final;
  // GPU ones make `stream` wait for it.
  virtual void finish(cudaStream_t stream) = 0;

  // Blocking forms: the buffer is final (CPU) or final in `stream`'s order (GPU) on return.
  void all_reduce_average(const Tensor& buffer, cudaStream_t stream) {
    start_all_reduce_average(buffer, stream);
    finish(stream);
  }
  // Copies `root`'s buffer into every rank's.
  virtual void broadcast(const Tensor& buffer, int root, cudaStream_t stream) = 0;

  // The two halves of an all-reduce, for sharded optimizer state (aslnet train --zero 1, ZeRO stage 1;
  // engine/replication/zero_shards.h). Both work in place on a buffer of size() equal chunks
  // (buffer.numel() must be a multiple of size()); chunk r is [r * numel / size, (r + 1) * numel / size).
  //
  // Starts replacing chunk rank() of `buffer` by its average over all ranks (reduce-scatter, then
  // average); completed by finish(), like start_all_reduce_average. The other chunks are left with
  // unspecified values (partial sums, or averages too). Default: an all-reduce average, which averages
  // every chunk; transports with a true reduce-scatter (NCCL, MPI, the TCP ring) move half the bytes.
  virtual void start_reduce_scatter_average(const Tensor& buffer, cudaStream_t stream);
  // Copies each rank's chunk r into chunk r of every rank's buffer (all-gather); final on return
  // (CPU) or in `stream`'s order (GPU). Default: one broadcast per chunk, from its owner.
  virtual void all_gather(const Tensor& buffer, cudaStream_t stream);
  // Sums a few host numbers over all ranks (metrics, agreed decisions); blocks.
  virtual void all_reduce_sum_host(std::vector<double>& values) = 0;
  void barrier() {
    std::vector<double> none(1, 0.0);
    all_reduce_sum_host(none);
  }

  // Waits until `stream` has drained, with the watchdog: the only safe way for the host to wait on a
  // stream that has queued collectives (a plain cudaStreamSynchronize would hang with a dead peer).
  virtual void synchronize(cudaStream_t stream) = 0;

  // Tells the peers that this rank has failed (`why` is the message they report), so that their
  // waits end now rather than at the timeout. Never throws.
  virtual void abort(const std::string& why) noexcept = 0;
};

inline void Communicator::start_reduce_scatter_average(const Tensor& buffer, cudaStream_t stream) {
  ASLNET_CHECK(buffer.numel() % size() == 0)
      << "a reduce-scatter of " << buffer.numel() << " values over " << size() << " ranks (a multiple of the ranks)";
  start_all_reduce_average(buffer, stream);  // every chunk averaged; this rank keeps its own
}

inline void Communicator::all_gather(const Tensor& buffer, cudaStream_t stream) {
  ASLNET_CHECK(buffer.numel() % size() == 0)
      << "an all-gather of " << buffer.numel() << " values over " << size() << " ranks (a multiple of the ranks)";
  const int64_t chunk = buffer.numel() / size();
  if (chunk == 0) return;
  for (int owner = 0; owner < size(); ++owner) broadcast(buffer.slice(owner * chunk, Shape{chunk}), owner, stream);
}

}  // namespace aslnet
