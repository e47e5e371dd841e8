#include <algorithm>

#include "kernels/linear.h"

namespace aslnet::kernels::cpu {

template <class T>
void linear_forward(int64_t batch, int64_t in, int64_t out, const T* x, const T* w, const T* b, T* y) {
  for (int64_t i = 0; i < batch; ++i) std::copy_n(b, out, y + i * out);
  gemm<T>(false, true, batch, out, in, T(1), x, in, w, in, T(1), y, out);
}

template <class T>
void linear_backward(int64_t batch, int64_t in, int64_t out, const T* x, const T* w, const T* dy, T* dx, T* dw,
                     T* db, bool accumulate) {
  if (dx != nullptr) gemm<T>(false, false, batch, in, out, T(1), dy, out, w, in, T(0), dx, in);
  gemm<T>(true, false, out, in, batch, T(1), dy, out, x, in, T(accumulate ? 1 : 0), dw, in);
  for (int64_t j = 0; j < out; ++j) {
    T sum = accumulate ? db[j] : T(0);
    for (int64_t i = 0; i < batch; ++i) sum += dy[i * out + j];
    db[j] = sum;
  }
}

template void linear_forward<float>(int64_t, int64_t, int64_t, const float*, const float*, const float*, float*);
template void linear_forward<double>(int64_t, int64_t, int64_t, const double*, const double*, const double*,
                                     double*);
template void linear_backward<float>(int64_t, int64_t, int64_t, const float*, const float*, const float*, float*,
                                     float*, float*, bool);
template void linear_backward<double>(int64_t, int64_t, int64_t, const double*, const double*, const double*,
                                      double*, double*, double*, bool);

}  // namespace aslnet::kernels::cpu
