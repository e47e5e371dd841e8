// Fully connected layer: y[n, out] = x[n, in] . w[out, in]^T + b[out] (torch's layout), and the
// matrix-product helper the CPU kernels share (OpenBLAS, row-major).
#pragma once

#include <cstdint>

namespace aslnet::kernels::cpu {

// C[m, n] = alpha * op(A) . op(B) + beta * C, row-major, op = transpose when the flag is set.
template <class T>
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
          const T* b, int64_t ldb, T beta, T* c, int64_t ldc);

template <class T>
void linear_forward(int64_t batch, int64_t in, int64_t out, const T* x, const T* w, const T* b, T* y);
// dx is overwritten (skipped when null); dw, db overwritten or, with `accumulate`, added to.
template <class T>
void linear_backward(int64_t batch, int64_t in, int64_t out, const T* x, const T* w, const T* dy, T* dx, T* dw,
                     T* db, bool accumulate);

}  // namespace aslnet::kernels::cpu
