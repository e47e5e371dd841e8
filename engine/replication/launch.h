// Launch modes: where this process stands in a data-parallel run, and the communicators for its
// replicas. This is the one place that knows which optional libraries (MPI, NCCL) were built in.
//
//   one process, several replicas (like DataParallel, without its master-GPU bottleneck):
//     --devices 0,1,2,3   NCCL, ncclCommInitAll, one host thread per GPU
//     --devices 0,0       replicas sharing one GPU: the in-process communicator (NCCL refuses)
//     --replicas N (CPU)  the in-process communicator over CPU threads
//   one process per replica (like DistributedDataParallel), started by mpirun on one or many machines:
//     GPU                 NCCL, ncclCommInitRank; rank 0 makes the unique id and MPI broadcasts it
//     CPU                 MPI's own collectives
//
// MPI is initialised only when the launcher's environment says this process is one of several ranks,
// so single-process runs need no MPI runtime.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine/core/device.h"
#include "engine/replication/communicator.h"

namespace aslnet {

// What the launcher's environment says (Open MPI's OMPI_COMM_WORLD_*, or MPICH/Hydra's PMI_*).
struct LaunchEnvironment {
  int rank = 0, size = 1;  // this process among all processes of the run
  int local_rank = 0;      // among the processes on this machine: which GPU to take
  int local_size = 1;      // processes on this machine (they share its cores)
  std::string launcher;    // "mpirun", or empty for a plain process
};
LaunchEnvironment launch_environment();

bool built_with_mpi();
bool built_with_nccl();
// The versions of the libraries in use ("2.28.3"; MPI's own one-line description), or "" when the build
// has none.
std::string nccl_version();
std::string mpi_version();

// This process's place in a run. Initialises MPI (and finalises it on destruction) when the
// environment names several ranks; a plain process has rank 0 of 1.
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

  // The communicators of this process's replicas, one per device (in order): several per process
  // (single-process mode) or exactly one (multi-process mode). Collective across processes: every
  // rank calls it at the same point. `nccl_in_process`: distinct GPUs always take NCCL; this also gives
  // a single GPU an NCCL communicator of one rank (benchmarks and tests of the NCCL path).
  std::vector<std::unique_ptr<Communicator>> communicators(const std::vector<Device>& devices,
                                                           bool nccl_in_process = false);
  // Ends every process of the run after printing `why` (multi-process runs; MPI_Abort). A process
  // alone just returns.
  void abort_run(const std::string& why) noexcept;

 private:
  LaunchEnvironment env_;
  CommOptions options_;
  bool mpi_initialised_ = false;
};

}  // namespace aslnet
