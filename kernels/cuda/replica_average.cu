// The replicas' average on one GPU (kernels/replica_average.h): each thread reads element i of every
// replica's buffer in replica order and writes the mean back to all of them. It is bandwidth-bound
// ((N + N) x 4 bytes per element); a grid-stride loop serves any size.
#include <algorithm>

#include "engine/core/cuda_check.h"
#include "kernels/replica_average.h"

namespace aslnet::kernels::cuda {

namespace {

constexpr int kThreads = 256;

__global__ void average_replicas_kernel(ReplicaBuffers buffers, int64_t begin, int64_t end, float scale) {
  for (int64_t i = begin + blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < end;
       i += int64_t(gridDim.x) * blockDim.x) {
    float sum = static_cast<const float*>(buffers.data[0])[i];
    for (int r = 1; r < buffers.count; ++r) sum += static_cast<const float*>(buffers.data[r])[i];
    const float mean = sum * scale;
    for (int r = 0; r < buffers.count; ++r) static_cast<float*>(buffers.data[r])[i] = mean;
  }
}

}  // namespace

void average_replicas(cudaStream_t stream, const ReplicaBuffers& buffers, int64_t begin, int64_t end) {
  if (end <= begin) return;
  const unsigned blocks = unsigned(std::clamp<int64_t>((end - begin + kThreads - 1) / kThreads, 1, 4096));
  average_replicas_kernel<<<blocks, kThreads, 0, stream>>>(buffers, begin, end, 1.0f / float(buffers.count));
  CUDA_CHECK_LAST();
}

}  // namespace aslnet::kernels::cuda
