#include "app/device_options.h"

#include <fmt/core.h>

#include <sstream>
#include <vector>

namespace aslnet::app {

Device training_device(const std::string& device, const std::string& devices) {
  if (device == "cpu") {
    ASLNET_CHECK(devices.empty()) << "--devices " << devices << " needs --device cuda";
    return Device::cpu();
  }
  ASLNET_CHECK(device == "cuda") << "--device " << device << ": expected cpu or cuda";
  std::vector<int> indices;
  std::stringstream list(devices.empty() ? std::string("0") : devices);
  for (std::string item; std::getline(list, item, ',');) {
    ASLNET_CHECK(!item.empty() && item.find_first_not_of("0123456789") == std::string::npos)
        << "--devices " << devices << ": expected a comma-separated list of GPU indices such as 0 or 0,1";
    indices.push_back(std::stoi(item));
  }
  ASLNET_CHECK(indices.size() == 1) << "--devices " << devices
                                    << ": one GPU per process in this build (several replicas arrive with replication)";
  const int count = gpu_count();
  ASLNET_CHECK(count > 0) << "--device cuda: no CUDA GPU is available here (hint: --device cpu)";
  ASLNET_CHECK(indices[0] < count) << "--devices " << devices << ": only " << count << " GPU(s) found (0.."
                                   << count - 1 << ")";
  return Device::cuda(indices[0]);
}

DType training_dtype(const std::string& precision, Device device) {
  if (precision == "fp32") return DType::F32;
  ASLNET_CHECK(precision == "bf16") << "--precision " << precision << ": expected fp32 or bf16";
  ASLNET_CHECK(device.is_cuda()) << "--precision bf16 is mixed precision on the GPU (hint: --device cuda, or fp32)";
  return DType::BF16;
}

void setup_or_explain(Context& ctx, Model& model, int64_t batch, int64_t image_size) {
  try {
    model.setup(ctx, batch, image_size, image_size);
  } catch (const Error& e) {
    const std::string what = e.what();
    if (what.find("out of GPU memory") == std::string::npos) throw;
    ASLNET_CHECK(false) << "--batch " << batch << " at " << image_size << " px does not fit in the memory of "
                        << ctx.device().str() << " (" << gpu_name(ctx.device().index)
                        << "): try a smaller --batch, or --accum-steps to keep the effective batch";
  }
}

std::string describe_device(const Context& ctx, const std::string& precision) {
  if (ctx.device().is_cpu()) return fmt::format("cpu ({} threads), {}", Context::cpu_threads(), precision);
  return fmt::format("{} ({}), {}{}", ctx.device().str(), gpu_name(ctx.device().index),
                     precision == "bf16" ? "bf16 mixed precision" : "fp32",
                     precision == "fp32" && ctx.allow_tf32() ? " with TF32" : "");
}

}  // namespace aslnet::app
