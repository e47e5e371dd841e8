// Context: everything an op needs besides its tensors. The device; on a GPU its compute and copy
// streams and the cuBLAS / cuDNN handles bound to the compute stream; a workspace reserved once at
// setup (im2col columns on the CPU, cuDNN workspace on the GPU); the random stream for
// initialisation; and the CPU thread count. No globals: every launcher takes its Context.
#pragma once

#include <cstdint>

#include "engine/core/buffer.h"
#include "engine/core/cuda_handles.h"
#include "engine/core/device.h"
#include "engine/core/rng.h"

namespace aslnet {

class Context {
 public:
  explicit Context(Device device = Device::cpu(), uint64_t seed = 0);
  Context(Context&&) = default;
  Context& operator=(Context&&) = default;

  Device device() const { return device_; }
  Rng& rng() { return rng_; }
  uint64_t seed() const { return seed_; }

  // CPU threads for the engine's own loops and for OpenBLAS.
  static void set_cpu_threads(int threads);
  static int cpu_threads();

  // Grows the workspace to at least `bytes`. Called at setup, never inside a step.
  void reserve_workspace(size_t bytes);
  void* workspace() const { return workspace_.data(); }
  size_t workspace_bytes() const { return workspace_.bytes(); }

  // GPU only (throws on a CPU context).
  cudaStream_t stream() const;
  cudaStream_t copy_stream() const;
  cublasHandle_t cublas() const;
  cudnnHandle_t cudnn() const;
  void synchronize() const;

  // TF32 tensor-core math for fp32 convolutions and matrix products (GPU only). Off by default: fp32
  // results then match the CPU reference to 1e-5 (cuBLAS in pedantic math, cuDNN in FMA math); on, they
  // match to about 1e-3 and run several times faster. Layers read it at setup.
  void set_allow_tf32(bool allow);
  bool allow_tf32() const { return allow_tf32_; }
  // Only deterministic cuDNN algorithms (--deterministic); layers read it at setup.
  void set_deterministic(bool deterministic) { deterministic_ = deterministic; }
  bool deterministic() const { return deterministic_; }

 private:
  Device device_;
  uint64_t seed_ = 0;
  bool allow_tf32_ = false;
  bool deterministic_ = false;
  Rng rng_;
  Buffer workspace_;
  Stream stream_;
  Stream copy_stream_;
  CublasHandle cublas_;
  CudnnHandle cudnn_;
};

}  // namespace aslnet
