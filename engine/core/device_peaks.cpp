#include "engine/core/device_peaks.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>

#include "engine/core/buffer.h"
#include "engine/core/cpu_blas.h"
#include "engine/core/cuda_check.h"
#include "engine/core/cuda_handles.h"
#include "engine/core/gpu_api.h"
#include "engine/core/parallel.h"
#include "engine/core/rng.h"

namespace aslnet {

namespace {

double tflops_of_gemm(int64_t n, double seconds) { return 2.0 * double(n) * double(n) * double(n) / seconds / 1e12; }
double gbs_of_copy(size_t bytes, double seconds) { return 2.0 * double(bytes) / seconds / 1e9; }  // read + write

// One cuBLAS product C = A.B of n x n matrices of `type`, computed as `compute`: 3 untimed, `reps` timed.
double cublas_gemm_tflops(Device device, cudaStream_t stream, cublasHandle_t handle, int64_t n, const Tensor& a,
                          const Tensor& b, const Tensor& c, cudaDataType_t type, cublasComputeType_t compute,
                          int reps) {
  const float alpha = 1, beta = 0;
  const int m = int(n);
  const double seconds = seconds_per_call(device, stream, 3, reps, [&] {
    CUBLAS_CHECK(cublasGemmEx(handle, CUBLAS_OP_N, CUBLAS_OP_N, m, m, m, &alpha, a.raw(), type, m, b.raw(), type, m,
                              &beta, c.raw(), type, m, compute, CUBLAS_GEMM_DEFAULT));
  });
  return tflops_of_gemm(n, seconds);
}

// cuBLAS products in bf16 (fp32 accumulation), TF32 and pedantic fp32.
void measure_gpu_gemms(Device device, DevicePeaks& peaks) {
  CUDA_CHECK(cudaSetDevice(device.index));
  const Stream stream = make_stream();
  // A handle of its own, in cuBLAS's default math mode: the compute type of each call decides the
  // math, whatever mode a Context's handle was left in.
  const CublasHandle handle = make_cublas(stream.get());
  peaks.gemm_n = 8192;
  const Shape square{peaks.gemm_n, peaks.gemm_n};
  // The bf16 product runs on bf16 copies of the same values; C is fp32-sized, enough for both types.
  const Tensor a32 = random_uniform(square, DType::F32, device, 1), b32 = random_uniform(square, DType::F32, device, 2);
  const Tensor a16 = random_uniform(square, DType::BF16, device, 1),
               b16 = random_uniform(square, DType::BF16, device, 2);
  const Tensor c = Tensor::empty(square, DType::F32, device);
  auto gemm = [&](const Tensor& a, const Tensor& b, cudaDataType_t type, cublasComputeType_t compute, int reps) {
    return cublas_gemm_tflops(device, stream.get(), handle.get(), peaks.gemm_n, a, b, c, type, compute, reps);
  };
  peaks.bf16_tflops = gemm(a16, b16, CUDA_R_16BF, CUBLAS_COMPUTE_32F, 20);
  peaks.tf32_tflops = gemm(a32, b32, CUDA_R_32F, CUBLAS_COMPUTE_32F_FAST_TF32, 10);
  peaks.fp32_tflops = gemm(a32, b32, CUDA_R_32F, CUBLAS_COMPUTE_32F_PEDANTIC, 3);
}

// An OpenBLAS sgemm.
void measure_cpu_gemm(DevicePeaks& peaks) {
  peaks.gemm_n = 2048;
  const int n = int(peaks.gemm_n);
  const Shape square{peaks.gemm_n, peaks.gemm_n};
  const Tensor a = random_uniform(square, DType::F32, Device::cpu(), 1),
               b = random_uniform(square, DType::F32, Device::cpu(), 2);
  const Tensor c = Tensor::empty(square, DType::F32);
  const double seconds = seconds_per_call(Device::cpu(), nullptr, 1, 3, [&] {
    cpu_blas::sgemm(false, false, n, n, n, 1.0f, a.data<float>(), n, b.data<float>(), n, 0.0f, c.data<float>(), n);
  });
  peaks.fp32_tflops = tflops_of_gemm(peaks.gemm_n, seconds);
}

double gpu_copy_gbs(Device device, size_t bytes) {
  CUDA_CHECK(cudaSetDevice(device.index));
  const Stream stream = make_stream();
  const Buffer src = Buffer::device(bytes, device.index), dst = Buffer::device(bytes, device.index);
  CUDA_CHECK(cudaMemsetAsync(src.data(), 0x5a, bytes, stream.get()));
  const double seconds = seconds_per_call(device, stream.get(), 3, 20, [&] {
    CUDA_CHECK(cudaMemcpyAsync(dst.data(), src.data(), bytes, cudaMemcpyDeviceToDevice, stream.get()));
  });
  return gbs_of_copy(bytes, seconds);
}

// One thread alone cannot saturate a socket's memory bandwidth: the copy goes in 1 MiB chunks spread
// over the engine's threads, as its own memory-bound loops (batch norm, the optimizer) are spread.
double cpu_copy_gbs(size_t bytes) {
  const size_t chunk = size_t(1) << 20;
  const Buffer src = Buffer::host(bytes), dst = Buffer::host(bytes);
  std::memset(src.data(), 0x5a, bytes);
  auto* from = static_cast<const char*>(src.data());
  auto* to = static_cast<char*>(dst.data());
  const double seconds = seconds_per_call(Device::cpu(), nullptr, 1, 5, [&] {
    parallel_for(int64_t((bytes + chunk - 1) / chunk), 1, [&](int64_t begin, int64_t end) {
      const size_t offset = size_t(begin) * chunk;
      std::memcpy(to + offset, from + offset, std::min(bytes, size_t(end) * chunk) - offset);
    });
  });
  return gbs_of_copy(bytes, seconds);
}

}  // namespace

double DevicePeaks::gemm_tflops(DType dtype, bool tf32) const {
  if (dtype == DType::BF16) return bf16_tflops;
  return tf32 ? tf32_tflops : fp32_tflops;
}

const char* DevicePeaks::gemm_name(DType dtype, bool tf32) {
  if (dtype == DType::BF16) return "bf16";
  return tf32 ? "tf32" : "fp32";
}

DevicePeaks measure_peaks(Device device) {
  DevicePeaks peaks;
  if (device.is_cuda())
    measure_gpu_gemms(device, peaks);
  else
    measure_cpu_gemm(peaks);
  peaks.copy_bytes = device.is_cuda() ? size_t(1) << 30 : size_t(256) << 20;
  peaks.copy_gbs = measure_copy_gbs(device, peaks.copy_bytes);
  return peaks;
}

double measure_copy_gbs(Device device, size_t bytes) {
  ASLNET_CHECK(bytes > 0) << "a copy of 0 bytes measures nothing";
  return device.is_cuda() ? gpu_copy_gbs(device, bytes) : cpu_copy_gbs(bytes);
}

double seconds_per_call(Device device, cudaStream_t stream, int warmup, int iters, const std::function<void()>& call,
                        const std::function<void()>& wait) {
  ASLNET_CHECK(iters > 0) << "timing needs at least one call, got " << iters;
  for (int i = 0; i < warmup; ++i) call();
  if (device.is_cpu()) {
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < iters; ++i) call();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / iters;
  }
  // The events bracket the work on the stream alone: the host may run ahead while it queues the calls.
  const Event start = make_event(true), stop = make_event(true);
  CUDA_CHECK(cudaEventRecord(start.get(), stream));
  for (int i = 0; i < iters; ++i) call();
  CUDA_CHECK(cudaEventRecord(stop.get(), stream));
  if (wait) wait();
  CUDA_CHECK(cudaEventSynchronize(stop.get()));  // at once after `wait`: the stream has drained
  float ms = 0;
  CUDA_CHECK(cudaEventElapsedTime(&ms, start.get(), stop.get()));
  return double(ms) / 1e3 / iters;
}

double seconds_per_call(const Context& ctx, int warmup, int iters, const std::function<void()>& call) {
  return seconds_per_call(ctx.device(), ctx.device().is_cuda() ? ctx.stream() : nullptr, warmup, iters, call);
}

Tensor random_uniform(const Shape& shape, DType dtype, Device device, uint64_t seed) {
  ASLNET_CHECK(dtype == DType::F32 || dtype == DType::BF16)
      << "random_uniform makes f32 or bf16 tensors, not " << dtype_name(dtype);
  Tensor host = Tensor::empty(shape, dtype, Device::cpu());
  Rng rng(seed);
  const int64_t count = shape.numel();
  float* f32 = dtype == DType::F32 ? host.data<float>() : nullptr;
  bf16* b16 = dtype == DType::BF16 ? host.data<bf16>() : nullptr;
  for (int64_t i = 0; i < count; ++i) {
    const float v = float(rng.uniform(-1.0, 1.0));
    if (b16 != nullptr)
      b16[i] = to_bf16(v);
    else
      f32[i] = v;
  }
  return device.is_cpu() ? host : host.to(device);
}

std::string device_name(Device device) {
  if (device.is_cuda()) return gpu_name(device.index);
  std::ifstream cpuinfo("/proc/cpuinfo");
  for (std::string line; std::getline(cpuinfo, line);) {
    if (line.rfind("model name", 0) != 0) continue;
    const size_t colon = line.find(':');
    if (colon != std::string::npos && colon + 2 <= line.size()) return line.substr(colon + 2);
  }
  return "cpu";
}

}  // namespace aslnet
