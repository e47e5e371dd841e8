// Pooling over NHWC activations: max pooling (with -inf padding, as torch) and global average pooling.
#pragma once

#include <cstdint>

namespace aslnet::kernels {

struct PoolShape {
  int64_t n = 0, h = 0, w = 0, c = 0;
  int64_t window = 3, stride = 2, pad = 1;
  int64_t out_h() const { return (h + 2 * pad - window) / stride + 1; }
  int64_t out_w() const { return (w + 2 * pad - window) / stride + 1; }
};

namespace cpu {

// argmax[i] receives the flat input index (within its image) of output element i's maximum.
template <class T>
void maxpool_forward(const PoolShape& shape, const T* x, T* y, int32_t* argmax);
// dx is overwritten.
template <class T>
void maxpool_backward(const PoolShape& shape, const T* dy, const int32_t* argmax, T* dx);

// y[n, c] = mean over h, w of x[n, h, w, c]
template <class T>
void global_avgpool_forward(int64_t n, int64_t hw, int64_t c, const T* x, T* y);
template <class T>
void global_avgpool_backward(int64_t n, int64_t hw, int64_t c, const T* dy, T* dx);

}  // namespace cpu
}  // namespace aslnet::kernels

// The CUDA versions, over device buffers; T is float or bf16. Same semantics and argmax convention as
// the CPU kernels (first maximum in window order wins), so the two can be compared exactly.
#include "engine/core/gpu_types.h"

namespace aslnet::kernels::cuda {

template <class T>
void maxpool_forward(cudaStream_t stream, const PoolShape& shape, const T* x, T* y, int32_t* argmax);
// dx is overwritten (windows overlap: each input gathers from the outputs whose argmax it is).
template <class T>
void maxpool_backward(cudaStream_t stream, const PoolShape& shape, const T* dy, const int32_t* argmax, T* dx);
template <class T>
void global_avgpool_forward(cudaStream_t stream, int64_t n, int64_t hw, int64_t c, const T* x, T* y);
template <class T>
void global_avgpool_backward(cudaStream_t stream, int64_t n, int64_t hw, int64_t c, const T* dy, T* dx);

}  // namespace aslnet::kernels::cuda
