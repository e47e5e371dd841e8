// Element-wise ops: ReLU and the residual add.
#pragma once

#include <cstdint>

namespace aslnet::kernels::cpu {

template <class T>
void relu_forward(int64_t count, const T* x, T* y);
// dx = dy where y > 0, else 0 (from the output, so the input need not be kept).
template <class T>
void relu_backward(int64_t count, const T* y, const T* dy, T* dx);
template <class T>
void add(int64_t count, const T* a, const T* b, T* y);
// y += x
template <class T>
void add_inplace(int64_t count, const T* x, T* y);

}  // namespace aslnet::kernels::cpu

// The CUDA versions: launched on `stream`, f32, over device buffers.
#include <cuda_runtime.h>

namespace aslnet::kernels::cuda {

void relu_forward(cudaStream_t stream, int64_t count, const float* x, float* y);
void relu_backward(cudaStream_t stream, int64_t count, const float* y, const float* dy, float* dx);
void add(cudaStream_t stream, int64_t count, const float* a, const float* b, float* y);

}  // namespace aslnet::kernels::cuda
