#include "kernels/elementwise.h"

namespace aslnet::kernels::cpu {

template <class T>
void relu_forward(int64_t count, const T* x, T* y) {
  for (int64_t i = 0; i < count; ++i) y[i] = x[i] > T(0) ? x[i] : T(0);
}

template <class T>
void relu_backward(int64_t count, const T* y, const T* dy, T* dx) {
  for (int64_t i = 0; i < count; ++i) dx[i] = y[i] > T(0) ? dy[i] : T(0);
}

template <class T>
void add(int64_t count, const T* a, const T* b, T* y) {
  for (int64_t i = 0; i < count; ++i) y[i] = a[i] + b[i];
}

template <class T>
void add_inplace(int64_t count, const T* x, T* y) {
  for (int64_t i = 0; i < count; ++i) y[i] += x[i];
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
