#include "engine/replication/launch.h"

#include <fmt/core.h>

#include <cstdio>
#include <cstdlib>

#include "engine/core/cuda_check.h"
#include "engine/replication/in_process.h"
#include "engine/replication/tcp_communicator.h"
#include "engine/replication/tcp_rendezvous.h"
#include "engine/replication/tcp_ring.h"

#if ASLNET_HAVE_MPI
#include "engine/replication/mpi_communicator.h"
#endif
#if ASLNET_HAVE_NCCL
#include "engine/replication/nccl_communicator.h"
#endif

namespace aslnet {

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

#if ASLNET_HAVE_NCCL
namespace {

// One NCCL rank per process: rank 0 makes the unique id and `carrier` (MPI or the TCP ring) takes it
// to the others. The broadcast waits under the carrier's watchdog, so a rank that never starts stops
// the others there rather than inside NCCL's (blocking) initialisation, which has none.
std::unique_ptr<Communicator> nccl_rank(const LaunchEnvironment& env, Device device, Communicator& carrier,
                                        CommOptions options) {
  ncclUniqueId id;
  if (env.rank == 0) NCCL_CHECK(ncclGetUniqueId(&id));
  Tensor id_bytes = Tensor::view(&id, Shape{int64_t(sizeof(id))}, DType::U8);
  carrier.broadcast(id_bytes, 0, nullptr);
  CUDA_CHECK(cudaSetDevice(device.index));
  ncclComm_t comm;
  NCCL_CHECK(ncclCommInitRank(&comm, env.size, id, env.rank));
  return std::make_unique<NcclCommunicator>(comm, device, options);
}

}  // namespace
#endif

ProcessGroup::ProcessGroup(CommOptions options) : env_(launch_environment()), options_(options) {
  if (!multi_process()) return;
  if (!env_.uses_mpi()) {
    // torchrun or srun: aslnet's own rendezvous and ring; MPI is never initialised.
    RingLinks links =
        tcp_rendezvous(env_.rank, env_.size, env_.master_addr, env_.master_port, options_.timeout_seconds);
    ring_ = std::make_shared<TcpRing>(env_.rank, env_.size, std::move(links), options_.timeout_seconds);
    return;
  }
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
                                                                       bool nccl_in_process,
                                                                       AllReduceAlgorithm algorithm) {
  ASLNET_CHECK(!devices.empty()) << "no devices to replicate on";
  // --allreduce chooses between the in-process communicator's algorithms; the others have their own.
  const auto only_in_process = [&](const std::string& which) {
    ASLNET_CHECK(algorithm == AllReduceAlgorithm::Central)
        << "--allreduce " << algorithm_name(algorithm)
        << " applies to the replicas of one process (--device cpu --replicas N); this run's replicas use " << which
        << ", which all-reduces its own way: leave out --allreduce";
  };
  if (!multi_process()) {
    // Single-process mode: CPU threads, replicas sharing one GPU, or one GPU each.
    bool shared = true, distinct = true;
    for (size_t i = 0; i < devices.size(); ++i)
      for (size_t j = 0; j < i; ++j) {
        shared = shared && devices[i] == devices[j];
        distinct = distinct && !(devices[i] == devices[j]);
      }
    const bool nccl_single = nccl_in_process && devices.size() == 1 && devices[0].is_cuda();
    if (devices[0].is_cpu() || (shared && !nccl_single))
      return make_in_process_communicators(devices, options_, algorithm);
    only_in_process("NCCL");
    ASLNET_CHECK(distinct) << "--devices must name one GPU per replica, or one GPU for all replicas (got a mix)";
#if ASLNET_HAVE_NCCL
    return make_nccl_communicators(devices, options_);
#else
    ASLNET_CHECK(false) << "several GPUs need NCCL, and aslnet was built without it";
#endif
  }
  // Multi-process mode: one replica per process.
  ASLNET_CHECK(devices.size() == 1) << "under " << env_.launcher << " each process drives one replica (got "
                                    << devices.size() << "): start one process per GPU instead";
  only_in_process(ring_ != nullptr ? (devices[0].is_cpu() ? "the TCP ring" : "NCCL")
                                   : (devices[0].is_cpu() ? "MPI" : "NCCL"));
  std::vector<std::unique_ptr<Communicator>> out;
  if (ring_ != nullptr) {
    if (devices[0].is_cpu()) {
      out.push_back(std::make_unique<TcpCommunicator>(ring_, env_.launcher));
      return out;
    }
#if ASLNET_HAVE_NCCL
    TcpCommunicator tcp(ring_, env_.launcher);
    out.push_back(nccl_rank(env_, devices[0], tcp, options_));
    return out;
#else
    ASLNET_CHECK(false) << "GPU ranks need NCCL, and aslnet was built without it";
#endif
  }
#if ASLNET_HAVE_MPI
  if (devices[0].is_cpu()) {
    out.push_back(std::make_unique<MpiCommunicator>(MPI_COMM_WORLD, options_));
    return out;
  }
#if ASLNET_HAVE_NCCL
  MpiCommunicator mpi(MPI_COMM_WORLD, options_);
  out.push_back(nccl_rank(env_, devices[0], mpi, options_));
  return out;
#else
  ASLNET_CHECK(false) << "GPU ranks need NCCL, and aslnet was built without it";
#endif
#endif
  return out;
}

void ProcessGroup::abort_run(const std::string& why) noexcept {
  if (ring_ != nullptr) {
    // The peers' errors already name a rank; this rank's own failure gets its number.
    const std::string line = why.rfind("rank ", 0) == 0 ? why : "rank " + std::to_string(env_.rank) + ": " + why;
    std::fprintf(stderr, "error: %s\n", line.c_str());
    std::fflush(stderr);
    std::fflush(stdout);
    ring_->abort(line);
    std::_Exit(1);
  }
#if ASLNET_HAVE_MPI
  if (mpi_initialised_) {
    std::fprintf(stderr, "error: rank %d: %s\n", env_.rank, why.c_str());
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
#endif
}

}  // namespace aslnet
