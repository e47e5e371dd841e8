#include "engine/core/context.h"

#include <algorithm>
#include <thread>

#include "engine/core/cpu_blas.h"
#include "engine/core/cuda_check.h"

namespace aslnet {

namespace {
int g_cpu_threads = 0;  // 0: not set yet, use every core
}

Context::Context(Device device, uint64_t seed) : device_(device), seed_(seed), rng_(seed) {
  if (device_.is_cuda()) {
    const int count = gpu_count();
    ASLNET_CHECK(device_.index >= 0 && device_.index < count)
        << "device " << device_.str() << " not available (" << count << " GPU(s) found)";
    CUDA_CHECK(cudaSetDevice(device_.index));
    stream_ = make_stream();
    copy_stream_ = make_stream();
    cublas_ = make_cublas(stream_.get());
    cudnn_ = make_cudnn(stream_.get());
    set_allow_tf32(false);
  }
}

void Context::set_allow_tf32(bool allow) {
  allow_tf32_ = allow;
  if (device_.is_cuda())
    CUBLAS_CHECK(cublasSetMathMode(cublas_.get(), allow ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_PEDANTIC_MATH));
}

void Context::set_cpu_threads(int threads) {
  g_cpu_threads = threads > 0 ? threads : int(std::max(1u, std::thread::hardware_concurrency()));
  cpu_blas::set_threads(g_cpu_threads);
}

int Context::cpu_threads() {
  if (g_cpu_threads == 0) set_cpu_threads(0);
  return g_cpu_threads;
}

void Context::reserve_workspace(size_t bytes) {
  if (bytes <= workspace_.bytes()) return;
  workspace_ = device_.is_cpu() ? Buffer::host(bytes) : Buffer::device(bytes, device_.index);
}

cudaStream_t Context::stream() const {
  ASLNET_CHECK(device_.is_cuda()) << "a CPU context has no CUDA stream";
  return stream_.get();
}
cudaStream_t Context::copy_stream() const {
  ASLNET_CHECK(device_.is_cuda()) << "a CPU context has no CUDA stream";
  return copy_stream_.get();
}
cublasHandle_t Context::cublas() const {
  ASLNET_CHECK(device_.is_cuda()) << "a CPU context has no cuBLAS handle";
  return cublas_.get();
}
cudnnHandle_t Context::cudnn() const {
  ASLNET_CHECK(device_.is_cuda()) << "a CPU context has no cuDNN handle";
  return cudnn_.get();
}
void Context::synchronize() const {
  if (device_.is_cuda()) CUDA_CHECK(cudaStreamSynchronize(stream_.get()));
}

}  // namespace aslnet
