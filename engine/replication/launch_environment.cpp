#include "engine/replication/launch_environment.h"

#include <fmt/core.h>

#include <cstdlib>

#include "engine/core/error.h"
#include "engine/replication/slurm_lists.h"

namespace aslnet {

namespace {

using Lookup = std::function<const char*(const char*)>;

bool has(const Lookup& lookup, const char* name) {
  const char* value = lookup(name);
  return value != nullptr && *value != '\0';
}

// A whole non-negative number, or an error naming the variable (a typo must not become rank 0).
int env_int(const Lookup& lookup, const char* name, int fallback) {
  if (!has(lookup, name)) return fallback;
  const std::string text = lookup(name);
  size_t used = 0;
  long value = -1;
  try {
    value = std::stol(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  ASLNET_CHECK(used == text.size() && value >= 0 && value <= 1'000'000'000)
      << name << "='" << text << "' is not a whole number";
  return int(value);
}

LaunchEnvironment from_torchrun(const Lookup& lookup) {
  LaunchEnvironment env;
  env.launcher = "torchrun";
  env.rank = env_int(lookup, "RANK", 0);
  env.size = env_int(lookup, "WORLD_SIZE", 1);
  env.local_rank = env_int(lookup, "LOCAL_RANK", 0);
  env.local_size = env_int(lookup, "LOCAL_WORLD_SIZE", 1);
  if (env.size > 1) {
    ASLNET_CHECK(has(lookup, "MASTER_ADDR"))
        << "WORLD_SIZE is " << env.size << " but MASTER_ADDR is not set (torchrun sets both)";
    ASLNET_CHECK(has(lookup, "MASTER_PORT"))
        << "WORLD_SIZE is " << env.size << " but MASTER_PORT is not set (torchrun sets both)";
    env.master_addr = lookup("MASTER_ADDR");
    env.master_port = env_int(lookup, "MASTER_PORT", 0);
    // torchrun's static rendezvous serves its own store on MASTER_PORT: take the next port.
    if (has(lookup, "TORCHELASTIC_USE_AGENT_STORE") && std::string(lookup("TORCHELASTIC_USE_AGENT_STORE")) == "True")
      env.master_port += 1;
  }
  return env;
}

LaunchEnvironment from_mpirun(const Lookup& lookup) {
  LaunchEnvironment env;
  env.launcher = "mpirun";
  if (has(lookup, "OMPI_COMM_WORLD_SIZE")) {  // Open MPI's mpirun
    env.size = env_int(lookup, "OMPI_COMM_WORLD_SIZE", 1);
    env.rank = env_int(lookup, "OMPI_COMM_WORLD_RANK", 0);
    env.local_rank = env_int(lookup, "OMPI_COMM_WORLD_LOCAL_RANK", 0);
    env.local_size = env_int(lookup, "OMPI_COMM_WORLD_LOCAL_SIZE", 1);
  } else {  // MPICH / Intel MPI (Hydra)
    env.size = env_int(lookup, "PMI_SIZE", 1);
    env.rank = env_int(lookup, "PMI_RANK", 0);
    env.local_rank = env_int(lookup, "MPI_LOCALRANKID", 0);
    env.local_size = env_int(lookup, "MPI_LOCALNRANKS", 1);
  }
  return env;
}

LaunchEnvironment from_srun(const Lookup& lookup) {
  LaunchEnvironment env;
  env.launcher = "srun";
  env.rank = env_int(lookup, "SLURM_PROCID", 0);
  env.size = has(lookup, "SLURM_STEP_NUM_TASKS") ? env_int(lookup, "SLURM_STEP_NUM_TASKS", 1)
                                                 : env_int(lookup, "SLURM_NTASKS", 1);
  env.local_rank = env_int(lookup, "SLURM_LOCALID", 0);
  if (has(lookup, "SLURM_STEP_TASKS_PER_NODE")) {
    // This node's entry: the step's nodes are numbered by SLURM_NODEID in the node list's order.
    const std::vector<int> per_node =
        expand_slurm_tasks_per_node(lookup("SLURM_STEP_TASKS_PER_NODE"), "SLURM_STEP_TASKS_PER_NODE");
    const int node = env_int(lookup, "SLURM_NODEID", 0);
    ASLNET_CHECK(node < int(per_node.size()))
        << "SLURM_NODEID is " << node << " but SLURM_STEP_TASKS_PER_NODE '" << lookup("SLURM_STEP_TASKS_PER_NODE")
        << "' lists " << per_node.size() << " nodes";
    env.local_size = per_node[size_t(node)];
  } else {
    env.local_size = env_int(lookup, "SLURM_NTASKS_PER_NODE", 1);
  }
  if (env.size > 1) {
    if (has(lookup, "MASTER_ADDR")) {
      env.master_addr = lookup("MASTER_ADDR");
    } else {
      const char* list = nullptr;
      for (const char* name : {"SLURM_STEP_NODELIST", "SLURM_JOB_NODELIST", "SLURM_NODELIST"})
        if (list == nullptr && has(lookup, name)) {
          list = name;
          env.master_addr = first_slurm_host(lookup(name), name);
        }
      ASLNET_CHECK(list != nullptr) << "srun started " << env.size
                                    << " tasks but neither MASTER_ADDR nor SLURM_STEP_NODELIST is set";
    }
    env.master_port = has(lookup, "MASTER_PORT") ? env_int(lookup, "MASTER_PORT", 0)
                                                 : kSlurmBasePort + env_int(lookup, "SLURM_JOB_ID", 0) % kSlurmPortSpan;
  }
  return env;
}

}  // namespace

LaunchEnvironment launch_environment(const Lookup& lookup) {
  LaunchEnvironment env;
  if (has(lookup, "RANK") && has(lookup, "WORLD_SIZE"))
    env = from_torchrun(lookup);
  else if (has(lookup, "OMPI_COMM_WORLD_SIZE") || has(lookup, "PMI_SIZE"))
    env = from_mpirun(lookup);
  else if (has(lookup, "SLURM_PROCID") && has(lookup, "SLURM_STEP_ID") &&
           (has(lookup, "SLURM_NTASKS") || has(lookup, "SLURM_STEP_NUM_TASKS")))
    env = from_srun(lookup);
  else
    return env;  // a plain process
  ASLNET_CHECK(env.size >= 1 && env.rank < env.size)
      << env.launcher << " says this is rank " << env.rank << " of " << env.size;
  ASLNET_CHECK(env.local_size >= 1 && env.local_rank < env.local_size)
      << env.launcher << " says this is local rank " << env.local_rank << " of " << env.local_size;
  ASLNET_CHECK(env.size == 1 || env.uses_mpi() || (env.master_port >= 1 && env.master_port <= 65535))
      << "the rendezvous port " << env.master_port << " (from MASTER_PORT or SLURM_JOB_ID) is not a TCP port";
  return env;
}

LaunchEnvironment launch_environment() {
  return launch_environment([](const char* name) -> const char* { return std::getenv(name); });
}

std::string LaunchEnvironment::describe() const {
  if (launcher.empty()) return "none (a single process)";
  std::string text = fmt::format("{}: rank {} of {} (local {} of {})", launcher, rank, size, local_rank, local_size);
  if (uses_mpi()) return text + ", MPI";
  if (size > 1) text += fmt::format(", rendezvous {}:{} over TCP", master_addr, master_port);
  return text;
}

}  // namespace aslnet
