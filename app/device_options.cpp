#include "app/device_options.h"

#include <fmt/core.h>

#include <CLI/CLI.hpp>

#include <sstream>
#include <vector>

#include "engine/core/device.h"
#include "engine/core/error.h"
#include "kernels/conv_onednn.h"
#include "kernels/cpu_kernels.h"

namespace aslnet::app {

CLI::Option* add_cpu_kernels_option(CLI::App& cmd) {
  const std::string help =
      fmt::format("CPU kernels: fast (oneDNN; batch norm folded into the convolutions for inference) or reference "
                  "(im2col + OpenBLAS, the engine's own loops); default {}",
                  kernels::cpu_kernels_name(kernels::default_cpu_kernels()));
  return cmd
      .add_option_function<std::string>(
          "--cpu-kernels", [](const std::string& v) { kernels::set_cpu_kernels(kernels::parse_cpu_kernels(v)); },
          help)
      ->check(CLI::IsMember({"reference", "fast"}))
      ->check(CLI::Validator(
          [](std::string& v) -> std::string {
            return v == "fast" && !kernels::onednn::available()
                       ? "this aslnet was built without oneDNN (install libdnnl-dev and rebuild); use reference"
                       : "";
          },
          "", "oneDNN"));
}

std::string resolve_device(const std::string& flag) {
  return flag != "auto" ? flag : gpu_count() > 0 ? "cuda" : "cpu";
}

std::vector<Device> training_devices(const std::string& flag, const std::string& devices, int replicas,
                                     int process_count, int local_rank) {
  ASLNET_CHECK(replicas >= 1) << "--replicas " << replicas << ": expected at least 1";
  // --replicas N asks for CPU replicas: auto does not turn it into an error on a GPU machine.
  const std::string device = flag == "auto" && replicas > 1 ? "cpu" : resolve_device(flag);
  if (device == "cpu") {
    ASLNET_CHECK(devices.empty()) << "--devices " << devices << " needs --device cuda (CPU replicas: --replicas N)";
    ASLNET_CHECK(process_count == 1 || replicas == 1)
        << "--replicas " << replicas << " under mpirun: each process is one replica (start more processes instead)";
    return std::vector<Device>(size_t(replicas), Device::cpu());
  }
  ASLNET_CHECK(device == "cuda") << "--device " << device << ": expected auto, cpu or cuda";
  require_gpu_support();
  ASLNET_CHECK(replicas == 1)
      << "--replicas is for CPU replicas; GPU replicas are listed with --devices (e.g. 0,1 or 0,0)";
  std::vector<int> indices;
  std::stringstream list(devices);
  for (std::string item; std::getline(list, item, ',');) {
    ASLNET_CHECK(!item.empty() && item.find_first_not_of("0123456789") == std::string::npos)
        << "--devices " << devices << ": expected a comma-separated list of GPU indices such as 0, 0,1 or 0,0";
    indices.push_back(std::stoi(item));
  }
  const int count = gpu_count();
  ASLNET_CHECK(count > 0) << "--device cuda: no CUDA GPU is available here (hint: --device cpu)";
  if (process_count > 1) {
    // Under mpirun each process takes one GPU: the local rank's entry of --devices, or the GPU with the
    // local rank's number.
    ASLNET_CHECK(indices.empty() || int(indices.size()) > local_rank)
        << "--devices " << devices << " names " << indices.size() << " GPU(s) but this machine runs local rank "
        << local_rank << " (give one entry per process on a machine, or leave --devices out)";
    indices = {indices.empty() ? local_rank : indices[size_t(local_rank)]};
  }
  if (indices.empty()) indices = {0};
  std::vector<Device> out;
  for (int index : indices) {
    ASLNET_CHECK(index < count) << "--devices " << (devices.empty() ? std::to_string(index) : devices) << ": only "
                                << count << " GPU(s) found (0.." << count - 1 << ")";
    out.push_back(Device::cuda(index));
  }
  return out;
}

DType training_dtype(const std::string& precision, Device device) {
  if (precision == "fp32") return DType::F32;
  ASLNET_CHECK(precision == "bf16") << "--precision " << precision << ": expected fp32 or bf16";
  ASLNET_CHECK(device.is_cuda()) << "--precision bf16 is mixed precision on the GPU (hint: --device cuda, or fp32)";
  return DType::BF16;
}

std::string describe_device(const Context& ctx, const std::string& precision) {
  if (ctx.device().is_cpu()) return fmt::format("cpu ({} threads), {}", Context::cpu_threads(), precision);
  return fmt::format("{} ({}), {}{}", ctx.device().str(), gpu_name(ctx.device().index),
                     precision == "bf16" ? "bf16 mixed precision" : "fp32",
                     precision == "fp32" && ctx.allow_tf32() ? " with TF32" : "");
}

}  // namespace aslnet::app
