// Where a tensor lives: the host, or CUDA device n. A GPU is optional at run time: gpu_count() treats
// any CUDA error (no driver, driver too old, no device) as "no GPU". A build without CUDA (CMake's
// ASLNET_CUDA off) has no GPU at all: gpu_count() is 0, and Device::cuda, the one way to name a GPU
// (Device::parse, --device cuda), refuses with kNoGpuSupport, so no GPU code path can be reached.
#pragma once

#include <string>

#include "engine/core/build_config.h"

namespace aslnet {

// Throws Error(kNoGpuSupport) in a build without CUDA; does nothing in one with CUDA.
void require_gpu_support();

struct Device {
  enum class Kind { CPU, CUDA };
  Kind kind = Kind::CPU;
  int index = 0;

  static Device cpu() { return {Kind::CPU, 0}; }
  static Device cuda(int index = 0) {
    require_gpu_support();
    return {Kind::CUDA, index};
  }
  static Device parse(const std::string& text);  // "cpu", "cuda", "cuda:1"

  bool is_cpu() const { return kind == Kind::CPU; }
  bool is_cuda() const { return kind == Kind::CUDA; }
  std::string str() const;
  bool operator==(const Device&) const = default;
};

int gpu_count();
std::string gpu_name(int index);

}  // namespace aslnet
