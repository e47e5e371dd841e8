#include "engine/core/device.h"

#include "engine/core/error.h"
#include "engine/core/gpu_api.h"

namespace aslnet {

Device Device::parse(const std::string& text) {
  if (text == "cpu") return cpu();
  if (text == "cuda") return cuda(0);
  if (text.rfind("cuda:", 0) == 0) {
    const std::string digits = text.substr(5);
    ASLNET_CHECK(!digits.empty() && digits.find_first_not_of("0123456789") == std::string::npos)
        << "bad device '" << text << "': expected cpu, cuda or cuda:N";
    return cuda(std::stoi(digits));
  }
  ASLNET_CHECK(false) << "bad device '" << text << "': expected cpu, cuda or cuda:N";
  return cpu();
}

void require_gpu_support() {
  if (!kBuiltWithCuda) throw Error(kNoGpuSupport);
}

std::string Device::str() const { return is_cpu() ? "cpu" : "cuda:" + std::to_string(index); }

int gpu_count() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    (void)cudaGetLastError();  // clear the sticky error so later checks do not trip on it
    return 0;
  }
  return count;
}

std::string gpu_name(int index) {
  cudaDeviceProp prop{};
  if (cudaGetDeviceProperties(&prop, index) != cudaSuccess) return "unknown";
  return prop.name;
}

}  // namespace aslnet
