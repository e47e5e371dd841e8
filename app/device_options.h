// The command line's device and precision flags, turned into a Device and a compute type, with one-line
// errors that name the flag.
#pragma once

#include <string>
#include <vector>

#include "engine/core/context.h"
#include "engine/core/dtype.h"

namespace CLI {
class App;
class Option;
}  // namespace CLI

namespace aslnet::app {

// --cpu-kernels reference|fast, the one definition every command that runs a model on the CPU adds:
// parsing it sets the process's choice (kernels/cpu_kernels.h) before the command sets up a model.
// Default: fast when this build has oneDNN, else reference; fast without oneDNN is a usage error.
CLI::Option* add_cpu_kernels_option(CLI::App& cmd);

// This process's replicas: --device cpu with --replicas N (N CPU replicas), or --device cuda with
// --devices LIST (one replica per entry; an index may repeat for replicas sharing a GPU; default 0).
// --device auto is cuda when this machine has a GPU and no CPU replicas are asked for (--replicas 1),
// else cpu. Under mpirun (process_count > 1) a process is one replica: its GPU is the local rank's.
// --device auto|cpu|cuda as cpu or cuda: auto is cuda when this machine has a GPU.
std::string resolve_device(const std::string& flag);

std::vector<Device> training_devices(const std::string& device, const std::string& devices, int replicas,
                                     int process_count, int local_rank);
// --precision fp32|bf16 on that device (bf16 is mixed precision and needs a GPU).
DType training_dtype(const std::string& precision, Device device);
// "cuda:0 (NVIDIA H100 80GB HBM3), bf16 mixed precision" or "cpu (2 threads), fp32".
std::string describe_device(const Context& ctx, const std::string& precision);

}  // namespace aslnet::app
