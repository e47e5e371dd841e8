// Element-wise ops: ReLU, the residual add, and a convolution's bias.
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
// y = relu(a + b): a residual block's join in one pass.
template <class T>
void add_relu(int64_t count, const T* a, const T* b, T* y);
// y[r][c] += bias[c] over `rows` rows of `channels` values (NHWC), then ReLU when `relu`.
template <class T>
void add_bias(int64_t rows, int64_t channels, const T* bias, bool relu, T* y);

}  // namespace aslnet::kernels::cpu

// The CUDA versions: launched on `stream` over device buffers. T is float or bf16 (mixed precision's
// activations); bf16 math happens in fp32 registers and rounds once on the store.
#include "engine/core/gpu_types.h"

namespace aslnet::kernels::cuda {

template <class T>
void relu_forward(cudaStream_t stream, int64_t count, const T* x, T* y);
template <class T>
void relu_backward(cudaStream_t stream, int64_t count, const T* y, const T* dy, T* dx);
template <class T>
void add(cudaStream_t stream, int64_t count, const T* a, const T* b, T* y);
template <class T>
void add_inplace(cudaStream_t stream, int64_t count, const T* x, T* y);
// y = relu(a + b): the end of a residual block in one pass.
template <class T>
void add_relu(cudaStream_t stream, int64_t count, const T* a, const T* b, T* y);
// y = T(x): fp32 to bf16 (round to nearest even), bf16 to fp32, or a plain copy.
template <class From, class To>
void cast(cudaStream_t stream, int64_t count, const From* x, To* y);
// A batch of u8 images (NHWC, `channels` innermost) to normalised T: y = (x / 255 - mean[c]) / std[c].
// mean and std are device arrays of `channels` floats.
template <class T>
void normalize_u8(cudaStream_t stream, int64_t pixels, int64_t channels, const uint8_t* x, const float* mean,
                  const float* std, T* y);

}  // namespace aslnet::kernels::cuda
