// Launch modes: where this process stands in a data-parallel run, and the communicators for its
// replicas. This is the one place that knows which optional libraries (MPI, NCCL) were built in.
//
//   one process, several replicas (like DataParallel, without its master-GPU bottleneck):
//     --devices 0,1,2,3   NCCL, ncclCommInitAll, one host thread per GPU
//     --devices 0,0       replicas sharing one GPU: the in-process communicator (NCCL refuses)
//     --replicas N (CPU)  the in-process communicator over CPU threads
//   one process per replica (like DistributedDataParallel), on one machine or many:
//     started by mpirun:
//       GPU               NCCL, ncclCommInitRank; rank 0 makes the unique id and MPI broadcasts it
//       CPU               MPI's own collectives
//     started by torchrun or srun (no MPI in the process):
//       GPU               NCCL, ncclCommInitRank; the unique id goes round aslnet's TCP ring
//       CPU               the TCP ring (tcp_communicator.h)
//
// launch_environment.h says which launcher started this process. MPI is initialised only under
// mpirun with several ranks, and the TCP rendezvous runs only under torchrun or srun with several, so
// single-process runs need neither.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine/core/device.h"
#include "engine/replication/communicator.h"
#include "engine/replication/in_process_ring.h"
#include "engine/replication/launch_environment.h"

namespace aslnet {

bool built_with_mpi();
bool built_with_nccl();
// The versions of the libraries in use ("2.28.3"; MPI's own one-line description), or "" when the build
// has none.
std::string nccl_version();
std::string mpi_version();

class TcpRing;

// This process's place in a run. When the environment names several ranks, joins them: MPI_Init under
// mpirun (MPI_Finalize on destruction), the TCP rendezvous under torchrun or srun (every rank connects
// within --comm-timeout, or this throws naming who waited for whom). A plain process has rank 0 of 1.
class ProcessGroup {
 public:
  explicit ProcessGroup(CommOptions options = {});
  ~ProcessGroup();
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

  int rank() const { return env_.rank; }
  int size() const { return env_.size; }
  int local_rank() const { return env_.local_rank; }
  int local_size() const { return env_.local_size; }
  bool multi_process() const { return env_.size > 1; }
  const LaunchEnvironment& environment() const { return env_; }

  // The communicators of this process's replicas, one per device (in order): several per process
  // (single-process mode) or exactly one (multi-process mode). Collective across processes: every
  // rank calls it at the same point. `nccl_in_process`: distinct GPUs always take NCCL; this also gives
  // a single GPU an NCCL communicator of one rank (benchmarks and tests of the NCCL path).
  // `algorithm` (--allreduce): how the in-process communicator all-reduces; Ring is refused, with a
  // one-line error, where the communicator is another (NCCL, MPI, the TCP ring choose their own).
  std::vector<std::unique_ptr<Communicator>> communicators(const std::vector<Device>& devices,
                                                           bool nccl_in_process = false,
                                                           AllReduceAlgorithm algorithm = AllReduceAlgorithm::Central);
  // Ends this process after printing `why` (with its rank) and stops the others: MPI_Abort under
  // mpirun; under torchrun or srun the ring's abort (the others stop at once with `why`), then exit
  // status 1. A process alone just returns.
  void abort_run(const std::string& why) noexcept;

 private:
  LaunchEnvironment env_;
  CommOptions options_;
  bool mpi_initialised_ = false;
  std::shared_ptr<TcpRing> ring_;  // torchrun and srun
};

}  // namespace aslnet
