// The practical ceilings of the device a benchmark runs on, measured in the same run, so that what a
// benchmark achieves reads as a fraction of what this machine can do rather than of a datasheet: a
// large matrix product per precision (the ceiling of convolutions and linear layers) and a large copy
// (the ceiling of memory-bound ops such as batch norm). Also what every benchmark needs around them:
// timing a call the device's way, inputs that are not zeros, and the device's name for its results.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "engine/core/context.h"
#include "engine/core/gpu_types.h"
#include "engine/core/tensor.h"

namespace aslnet {

struct DevicePeaks {
  // C = A.B with n x n matrices, in TFLOP/s (2 n^3 per product). 0: not measured (the CPU has fp32 only).
  int64_t gemm_n = 0;
  double bf16_tflops = 0, tf32_tflops = 0, fp32_tflops = 0;
  // A copy of copy_bytes, counting bytes read plus bytes written, in GB/s.
  size_t copy_bytes = 0;
  double copy_gbs = 0;

  // The matrix-product ceiling of a compute type: bf16, or fp32 with or without TF32 tensor cores.
  double gemm_tflops(DType dtype, bool tf32) const;
  static const char* gemm_name(DType dtype, bool tf32);  // "bf16", "tf32" or "fp32"
};

// GPU: cuBLAS products of 8192^3 in bf16 (fp32 accumulation), TF32 and pedantic fp32, and a 1 GiB
// device-to-device copy. CPU: an OpenBLAS sgemm of 2048^3 (8192^3 would take tens of seconds on a few
// cores, and 2048 already keeps every core's vector units busy), and a 256 MiB copy split over the
// engine's CPU threads, as the CPU kernels split their loops.
DevicePeaks measure_peaks(Device device);
// The copy alone, of `bytes` (as above: device-to-device on a GPU, over the engine's threads on the
// CPU), for benchmarks that compare with the copy only, such as all-reduce bandwidth.
double measure_copy_gbs(Device device, size_t bytes);

// Mean seconds of one call of `call`, after `warmup` untimed calls. GPU: CUDA events recorded on
// `stream` around the timed calls, which must enqueue their work on that stream (a host wait inside a
// call counts, as the stream's idle time). CPU: steady_clock around them (`stream` unused).
// `wait`, if given, is how the host waits on the GPU for the timed calls to finish, in place of a plain
// wait on the closing event; it must drain `stream`. Calls that queue collectives pass their
// communicator's synchronize, whose watchdog ends the wait if a peer dies (a plain wait would hang).
double seconds_per_call(Device device, cudaStream_t stream, int warmup, int iters, const std::function<void()>& call,
                        const std::function<void()>& wait = {});
// The same on a Context's device and compute stream.
double seconds_per_call(const Context& ctx, int warmup, int iters, const std::function<void()>& call);

// Uniform values in [-1, 1) (f32 or bf16), made on the host from `seed`, then copied to `device`.
// Never zeros: a GPU multiplies zeros faster than real data (less switching, higher clocks).
Tensor random_uniform(const Shape& shape, DType dtype, Device device, uint64_t seed);

// The device's name, as benchmark results record it: the GPU's name, or the CPU's model name.
std::string device_name(Device device);

}  // namespace aslnet
