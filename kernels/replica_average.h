// The arithmetic of an all-reduce between replicas that share one address space: replicas on CPU
// threads of one process, or several replicas on one GPU (where NCCL refuses two ranks per device).
// Each call averages a range of N equally-shaped buffers and writes the average back into all N,
// summing in replica order (0, 1, ..., N-1) so every replica, and every run, gets the same bits.
#pragma once

#include <cstdint>

namespace aslnet::kernels {

// Replicas one kernel launch can serve (a GPU kernel takes the pointers by value).
constexpr int kMaxSharedReplicas = 16;

struct ReplicaBuffers {
  void* data[kMaxSharedReplicas] = {};  // of the element type the function is called with
  int count = 0;
};

namespace cpu {
// buffers[r][i] = (buffers[0][i] + ... + buffers[N-1][i]) / N for i in [begin, end); T: float or double.
template <class T>
void average_replicas(const ReplicaBuffers& buffers, int64_t begin, int64_t end);
}  // namespace cpu

}  // namespace aslnet::kernels

#include "engine/core/gpu_types.h"

namespace aslnet::kernels::cuda {
// The same over float buffers of one GPU, launched on `stream`.
void average_replicas(cudaStream_t stream, const ReplicaBuffers& buffers, int64_t begin, int64_t end);
}  // namespace aslnet::kernels::cuda
