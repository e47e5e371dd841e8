// CUDA element-wise kernels: grid-stride loops, so one launch shape serves any size.
#include <algorithm>

#include "engine/core/cuda_check.h"
#include "kernels/elementwise.h"

namespace aslnet::kernels::cuda {

namespace {

constexpr int kThreads = 256;

unsigned blocks_for(int64_t count) {
  // Enough blocks to fill any current GPU several times over; the loop covers the rest.
  return unsigned(std::clamp<int64_t>((count + kThreads - 1) / kThreads, 1, 65535));
}

__global__ void relu_forward_kernel(int64_t count, const float* x, float* y) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < count; i += int64_t(gridDim.x) * blockDim.x)
    y[i] = fmaxf(x[i], 0.0f);
}

__global__ void relu_backward_kernel(int64_t count, const float* y, const float* dy, float* dx) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < count; i += int64_t(gridDim.x) * blockDim.x)
    dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

__global__ void add_kernel(int64_t count, const float* a, const float* b, float* y) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < count; i += int64_t(gridDim.x) * blockDim.x)
    y[i] = a[i] + b[i];
}

}  // namespace

void relu_forward(cudaStream_t stream, int64_t count, const float* x, float* y) {
  if (count == 0) return;
  relu_forward_kernel<<<blocks_for(count), kThreads, 0, stream>>>(count, x, y);
  CUDA_CHECK_LAST();
}

void relu_backward(cudaStream_t stream, int64_t count, const float* y, const float* dy, float* dx) {
  if (count == 0) return;
  relu_backward_kernel<<<blocks_for(count), kThreads, 0, stream>>>(count, y, dy, dx);
  CUDA_CHECK_LAST();
}

void add(cudaStream_t stream, int64_t count, const float* a, const float* b, float* y) {
  if (count == 0) return;
  add_kernel<<<blocks_for(count), kThreads, 0, stream>>>(count, a, b, y);
  CUDA_CHECK_LAST();
}

}  // namespace aslnet::kernels::cuda
