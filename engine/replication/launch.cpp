#include "engine/replication/launch.h"

#include <cstdio>
#include <cstdlib>

#include <fmt/core.h>

#include "engine/core/cuda_check.h"
#include "engine/replication/in_process.h"

#if ASLNET_HAVE_MPI
#include "engine/replication/mpi_communicator.h"
#endif
#if ASLNET_HAVE_NCCL
#include "engine/replication/nccl_communicator.h"
#endif

namespace aslnet {

namespace {

int env_int(const char* name, int fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? std::atoi(value) : fallback;
}

}  // namespace

LaunchEnvironment launch_environment() {
  LaunchEnvironment env;
  if (std::getenv("OMPI_COMM_WORLD_SIZE") != nullptr) {  // Open MPI's mpirun
    env.size = env_int("OMPI_COMM_WORLD_SIZE", 1);
    env.rank = env_int("OMPI_COMM_WORLD_RANK", 0);
    env.local_rank = env_int("OMPI_COMM_WORLD_LOCAL_RANK", 0);
    env.local_size = env_int("OMPI_COMM_WORLD_LOCAL_SIZE", 1);
    env.launcher = "mpirun";
  } else if (std::getenv("PMI_SIZE") != nullptr) {  // MPICH / Intel MPI (Hydra)
    env.size = env_int("PMI_SIZE", 1);
    env.rank = env_int("PMI_RANK", 0);
    env.local_rank = env_int("MPI_LOCALRANKID", 0);
    env.local_size = env_int("MPI_LOCALNRANKS", 1);
    env.launcher = "mpirun";
  }
  return env;
}

bool built_with_mpi() { return ASLNET_HAVE_MPI != 0; }
bool built_with_nccl() { return ASLNET_HAVE_NCCL != 0; }

std::string nccl_version() {
#if ASLNET_HAVE_NCCL
  int code = 0;
  if (ncclGetVersion(&code) != ncclSuccess) return "unknown";
  // NCCL 2.9 and later: major * 10000 + minor * 100 + patch.
  return fmt::format("{}.{}.{}", code / 10000, code / 100 % 100, code % 100);
#else
  return "";
#endif
}

std::string mpi_version() {
#if ASLNET_HAVE_MPI
  // One of the few MPI calls allowed before MPI_Init.
  char text[MPI_MAX_LIBRARY_VERSION_STRING] = {};
  int length = 0;
  if (MPI_Get_library_version(text, &length) != MPI_SUCCESS) return "unknown";
  std::string version(text, size_t(length));
  if (const size_t end = version.find_first_of(",\n"); end != std::string::npos) version.resize(end);
  return version;
#else
  return "";
#endif
}

ProcessGroup::ProcessGroup(CommOptions options) : env_(launch_environment()), options_(options) {
  if (!multi_process()) return;
#if ASLNET_HAVE_MPI
  // One thread per process makes MPI calls (the replica's); loader threads never do.
  int provided = 0;
  MPI_CHECK(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided));
  mpi_initialised_ = true;
  int rank = 0, size = 1;
  MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &rank));
  MPI_CHECK(MPI_Comm_size(MPI_COMM_WORLD, &size));
  env_.rank = rank;
  env_.size = size;
#else
  ASLNET_CHECK(false) << "this process is rank " << env_.rank << " of " << env_.size
                      << " (launched by mpirun) but aslnet was built without MPI: install libopenmpi-dev and rebuild";
#endif
}

ProcessGroup::~ProcessGroup() {
#if ASLNET_HAVE_MPI
  if (mpi_initialised_) MPI_Finalize();
#endif
}

std::vector<std::unique_ptr<Communicator>> ProcessGroup::communicators(const std::vector<Device>& devices,
                                                                       bool nccl_in_process) {
  ASLNET_CHECK(!devices.empty()) << "no devices to replicate on";
  if (!multi_process()) {
    // Single-process mode: CPU threads, replicas sharing one GPU, or one GPU each.
    bool shared = true, distinct = true;
    for (size_t i = 0; i < devices.size(); ++i)
      for (size_t j = 0; j < i; ++j) {
        shared = shared && devices[i] == devices[j];
        distinct = distinct && !(devices[i] == devices[j]);
      }
    const bool nccl_single = nccl_in_process && devices.size() == 1 && devices[0].is_cuda();
    if (devices[0].is_cpu() || (shared && !nccl_single)) return make_in_process_communicators(devices, options_);
    ASLNET_CHECK(distinct) << "--devices must name one GPU per replica, or one GPU for all replicas (got a mix)";
#if ASLNET_HAVE_NCCL
    return make_nccl_communicators(devices, options_);
#else
    ASLNET_CHECK(false) << "several GPUs need NCCL, and aslnet was built without it";
#endif
  }
  // Multi-process mode: one replica per process.
  ASLNET_CHECK(devices.size() == 1) << "under mpirun each process drives one replica (got " << devices.size()
                                    << "): start one process per GPU instead";
  std::vector<std::unique_ptr<Communicator>> out;
#if ASLNET_HAVE_MPI
  if (devices[0].is_cpu()) {
    out.push_back(std::make_unique<MpiCommunicator>(MPI_COMM_WORLD, options_));
    return out;
  }
#if ASLNET_HAVE_NCCL
  // Rank 0 makes the unique id; MPI carries it to the others. The broadcast waits under the watchdog,
  // so a rank that never starts stops the others here rather than inside NCCL's (blocking)
  // initialisation, which has none.
  MpiCommunicator mpi(MPI_COMM_WORLD, options_);
  ncclUniqueId id;
  if (env_.rank == 0) NCCL_CHECK(ncclGetUniqueId(&id));
  Tensor id_bytes = Tensor::view(&id, Shape{int64_t(sizeof(id))}, DType::U8);
  mpi.broadcast(id_bytes, 0, nullptr);
  CUDA_CHECK(cudaSetDevice(devices[0].index));
  ncclComm_t comm;
  NCCL_CHECK(ncclCommInitRank(&comm, env_.size, id, env_.rank));
  out.push_back(std::make_unique<NcclCommunicator>(comm, devices[0], options_));
  return out;
#else
  ASLNET_CHECK(false) << "GPU ranks need NCCL, and aslnet was built without it";
#endif
#endif
  return out;
}

void ProcessGroup::abort_run(const std::string& why) noexcept {
#if ASLNET_HAVE_MPI
  if (mpi_initialised_) {
    std::fprintf(stderr, "error: rank %d: %s\n", env_.rank, why.c_str());
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
#endif
}

}  // namespace aslnet
