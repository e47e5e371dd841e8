// Where this process stands in a run, read from its launcher's environment variables. Nothing here
// starts or connects anything: ProcessGroup (launch.h) does that with what this says.
//
// The launchers, in order of precedence (the first whose variables are set wins):
//   torchrun  RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT
//   mpirun    OMPI_COMM_WORLD_{RANK,SIZE,LOCAL_RANK,LOCAL_SIZE} (Open MPI), PMI_RANK, PMI_SIZE,
//             MPI_LOCALRANKID, MPI_LOCALNRANKS (MPICH's and Intel MPI's Hydra)
//   srun      SLURM_PROCID, SLURM_NTASKS (SLURM_STEP_NUM_TASKS first), SLURM_LOCALID, SLURM_NODEID,
//             SLURM_STEP_TASKS_PER_NODE or SLURM_NTASKS_PER_NODE, SLURM_STEP_NODELIST or
//             SLURM_JOB_NODELIST / SLURM_NODELIST, SLURM_JOB_ID; only inside a step (SLURM_STEP_ID set)
// Why this order: torchrun's variables are set on purpose for this very process (`srun torchrun ...`
// runs torchrun under Slurm, and its workers inherit Slurm's variables too). mpirun comes before Slurm
// because mpirun inside a Slurm job hands its ranks the Slurm variables of the job's batch step
// (SLURM_PROCID 0 for every rank), which describe mpirun, not them. A batch script's own shell has
// SLURM_PROCID and SLURM_NTASKS too, but no SLURM_STEP_ID: a plain `aslnet train` there is one process.
//
// torchrun and srun processes meet over TCP (tcp_rendezvous.h): rank 0 listens on the rendezvous
// address, the others connect. Under torchrun that is MASTER_ADDR:MASTER_PORT, except that torchrun's
// default (static) rendezvous keeps its own store listening on MASTER_PORT (it then sets
// TORCHELASTIC_USE_AGENT_STORE=True), so aslnet takes MASTER_PORT + 1. Under srun it is MASTER_ADDR if
// set, else the first host of the step's node list (rank 0 runs there), and MASTER_PORT if set, else
// kSlurmBasePort + SLURM_JOB_ID % kSlurmPortSpan: one port per job, so that two jobs whose first node
// is the same do not collide (two steps of one job at once must set MASTER_PORT).
#pragma once

#include <functional>
#include <string>

namespace aslnet {

struct LaunchEnvironment {
  int rank = 0, size = 1;  // this process among all processes of the run
  int local_rank = 0;      // among the processes on this machine: which GPU to take
  int local_size = 1;      // processes on this machine (they share its cores)
  std::string launcher;    // "torchrun", "mpirun", "srun", or empty for a plain process
  // torchrun and srun: where rank 0 listens for the others (tcp_rendezvous.h).
  std::string master_addr;
  int master_port = 0;

  // mpirun's processes talk through MPI; torchrun's and srun's through aslnet's own TCP ring.
  bool uses_mpi() const { return launcher == "mpirun"; }
  // One line for `aslnet info` and logs: "torchrun: rank 0 of 2 (local 0 of 2), rendezvous 127.0.0.1:29501".
  std::string describe() const;
};

// Slurm's rendezvous port when MASTER_PORT is not set: kSlurmBasePort + SLURM_JOB_ID % kSlurmPortSpan
// (29500 to 31499, below Linux's ephemeral ports, which start at 32768).
constexpr int kSlurmBasePort = 29500;
constexpr int kSlurmPortSpan = 2000;

// Reads the variables through `lookup` (nullptr: not set), so tests can give any environment.
LaunchEnvironment launch_environment(const std::function<const char*(const char*)>& lookup);
// This process's environment.
LaunchEnvironment launch_environment();

}  // namespace aslnet
