#include "kernels/elementwise.h"

#include "engine/core/parallel.h"

namespace aslnet::kernels::cpu {

namespace {
// Element-wise loops are memory-bound: split them only when each thread gets a few hundred KiB.
constexpr int64_t kGrain = 1 << 15;
}  // namespace

template <class T>
void relu_forward(int64_t count, const T* x, T* y) {
  parallel_for(count, kGrain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) y[i] = x[i] > T(0) ? x[i] : T(0);
  });
}

template <class T>
void relu_backward(int64_t count, const T* y, const T* dy, T* dx) {
  parallel_for(count, kGrain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) dx[i] = y[i] > T(0) ? dy[i] : T(0);
  });
}

template <class T>
void add(int64_t count, const T* a, const T* b, T* y) {
  parallel_for(count, kGrain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) y[i] = a[i] + b[i];
  });
}

template <class T>
void add_inplace(int64_t count, const T* x, T* y) {
  parallel_for(count, kGrain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) y[i] += x[i];
  });
}

#define ASLNET_INSTANTIATE(T)                                           \
  template void relu_forward<T>(int64_t, const T*, T*);                 \
  template void relu_backward<T>(int64_t, const T*, const T*, T*);      \
  template void add<T>(int64_t, const T*, const T*, T*);                \
  template void add_inplace<T>(int64_t, const T*, T*);
ASLNET_INSTANTIATE(float)
ASLNET_INSTANTIATE(double)
#undef ASLNET_INSTANTIATE

}  // namespace aslnet::kernels::cpu
