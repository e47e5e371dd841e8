#include "kernels/elementwise.h"

#include <algorithm>

#include "engine/core/parallel.h"
#include "engine/core/vectorize.h"

namespace aslnet::kernels::cpu {

namespace {
// Element-wise loops are memory-bound: split them only when each thread gets a few hundred KiB.
constexpr int64_t kGrain = 1 << 15;

// The loops themselves, out of the lambdas so that they take plain pointers (a lambda's captured
// references are reloaded after every store) and are compiled for each vector width. Both operands
// are read before the select: a load behind a condition would keep the loop scalar.
template <class T>
ASLNET_VECTORIZE void relu_forward_range(int64_t begin, int64_t end, const T* x, T* y) {
  for (int64_t i = begin; i < end; ++i) {
    const T v = x[i];
    y[i] = v > T(0) ? v : T(0);
  }
}

template <class T>
ASLNET_VECTORIZE void relu_backward_range(int64_t begin, int64_t end, const T* y, const T* dy, T* dx) {
  for (int64_t i = begin; i < end; ++i) {
    const T g = dy[i];
    dx[i] = y[i] > T(0) ? g : T(0);
  }
}

template <class T>
ASLNET_VECTORIZE void add_range(int64_t begin, int64_t end, const T* a, const T* b, T* y) {
  for (int64_t i = begin; i < end; ++i) y[i] = a[i] + b[i];
}

template <class T>
ASLNET_VECTORIZE void add_relu_range(int64_t begin, int64_t end, const T* a, const T* b, T* y) {
  for (int64_t i = begin; i < end; ++i) {
    const T v = a[i] + b[i];
    y[i] = v > T(0) ? v : T(0);
  }
}

template <class T>
ASLNET_VECTORIZE void add_bias_rows(int64_t rows, int64_t channels, const T* bias, bool relu, T* y) {
  for (int64_t r = 0; r < rows; ++r) {
    T* row = y + r * channels;
    if (relu) {
      for (int64_t c = 0; c < channels; ++c) {
        const T v = row[c] + bias[c];
        row[c] = v > T(0) ? v : T(0);
      }
    } else {
      for (int64_t c = 0; c < channels; ++c) row[c] += bias[c];
    }
  }
}
}  // namespace

template <class T>
void relu_forward(int64_t count, const T* x, T* y) {
  parallel_for(count, kGrain, [=](int64_t b, int64_t e) { relu_forward_range(b, e, x, y); });
}

template <class T>
void relu_backward(int64_t count, const T* y, const T* dy, T* dx) {
  parallel_for(count, kGrain, [=](int64_t b, int64_t e) { relu_backward_range(b, e, y, dy, dx); });
}

template <class T>
void add(int64_t count, const T* a, const T* b, T* y) {
  parallel_for(count, kGrain, [=](int64_t begin, int64_t end) { add_range(begin, end, a, b, y); });
}

template <class T>
void add_inplace(int64_t count, const T* x, T* y) {
  parallel_for(count, kGrain, [=](int64_t begin, int64_t end) { add_range(begin, end, x, y, y); });
}

template <class T>
void add_relu(int64_t count, const T* a, const T* b, T* y) {
  parallel_for(count, kGrain, [=](int64_t begin, int64_t end) { add_relu_range(begin, end, a, b, y); });
}

template <class T>
void add_bias(int64_t rows, int64_t channels, const T* bias, bool relu, T* y) {
  parallel_for(rows, std::max<int64_t>(1, kGrain / channels),
               [=](int64_t b, int64_t e) { add_bias_rows(e - b, channels, bias, relu, y + b * channels); });
}

#define ASLNET_INSTANTIATE(T)                                      \
  template void add_bias<T>(int64_t, int64_t, const T*, bool, T*); \
  template void add_relu<T>(int64_t, const T*, const T*, T*);      \
  template void relu_forward<T>(int64_t, const T*, T*);            \
  template void relu_backward<T>(int64_t, const T*, const T*, T*); \
  template void add<T>(int64_t, const T*, const T*, T*);           \
  template void add_inplace<T>(int64_t, const T*, T*);
ASLNET_INSTANTIATE(float)
ASLNET_INSTANTIATE(double)
#undef ASLNET_INSTANTIATE

}  // namespace aslnet::kernels::cpu
