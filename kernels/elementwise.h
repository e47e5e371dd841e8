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
