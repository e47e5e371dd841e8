// aslnet info: which aslnet this is and what it runs on (versions of the code and of every library), what
// it can use (CPU threads, GPUs, communicators) and the size of each architecture.
#include <fmt/core.h>

#include "app/commands.h"
#include "app/versions.h"
#include "engine/core/context.h"
#include "engine/replication/launch.h"
#include "models/resnet.h"

namespace aslnet::app {

void register_info(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "info", "Show the version, the library versions, the devices this build can use and the models it can build");
  cmd->callback([] {
    fmt::print("{}", version_text());
    fmt::print("cpu threads: {}\n", Context::cpu_threads());
    const int gpus = gpu_count();
    fmt::print("cuda gpus:   {}\n", gpus);
    for (int i = 0; i < gpus; ++i) fmt::print("  cuda:{}  {}\n", i, gpu_name(i));
    fmt::print("replication: in-process, tcp{}{}\n", built_with_nccl() ? ", nccl" : "", built_with_mpi() ? ", mpi" : "");
    // Who started this process (torchrun, srun, mpirun or nobody), read from the environment only.
    try {
      fmt::print("launcher:    {}\n", launch_environment().describe());
    } catch (const Error& e) {  // info still answers in a broken environment, and says what is wrong
      fmt::print("launcher:    unusable: {}\n", e.message());
    }
    for (const auto& arch : resnet_architectures()) {
      auto model = make_resnet({arch, "imagenet", 1.0, 29, 3});
      fmt::print("{:<9} {:>11} parameters (29 classes)\n", arch, model->parameter_count());
    }
  });
}

}  // namespace aslnet::app
