// bf16 -> fp32 widening into the gradient arena (kernels/precision.h).
#include <cuda_bf16.h>

#include <algorithm>

#include "engine/core/cuda_check.h"
#include "kernels/precision.h"

namespace aslnet::kernels::cuda {

namespace {

__global__ void widen_kernel(int64_t count, const __nv_bfloat16* x, float* y, bool accumulate) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < count; i += int64_t(gridDim.x) * blockDim.x) {
    const float v = __bfloat162float(x[i]);
    y[i] = accumulate ? y[i] + v : v;
  }
}

}  // namespace

void widen_into(cudaStream_t stream, int64_t count, const bf16* x, float* y, bool accumulate) {
  if (count == 0) return;
  constexpr int kThreads = 256;
  const unsigned blocks = unsigned(std::clamp<int64_t>((count + kThreads - 1) / kThreads, 1, 4096));
  widen_kernel<<<blocks, kThreads, 0, stream>>>(count, reinterpret_cast<const __nv_bfloat16*>(x), y, accumulate);
  CUDA_CHECK_LAST();
}

}  // namespace aslnet::kernels::cuda
