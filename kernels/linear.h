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

// The CUDA versions, on cuBLAS (row-major here, so the calls swap operands). T is float or bf16 (bf16
// inputs, fp32 accumulation). The handle's math mode decides TF32 (the Context sets it: pedantic fp32
// for the comparison tests, TF32 when asked). The handle must be bound to the caller's stream.
#include "engine/core/gpu_types.h"

namespace aslnet::kernels::cuda {

template <class T>
void gemm(cublasHandle_t handle, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const T* a,
          int64_t lda, const T* b, int64_t ldb, float beta, T* c, int64_t ldc);
// y = x . w^T + b. w, b, dw, db are T too (the bf16 weight copies in mixed precision).
template <class T>
void linear_forward(cublasHandle_t handle, int64_t batch, int64_t in, int64_t out, const T* x, const T* w, const T* b,
                    T* y);
// dx is overwritten (skipped when null); dw, db overwritten or, with `accumulate`, added to.
template <class T>
void linear_backward(cublasHandle_t handle, int64_t batch, int64_t in, int64_t out, const T* x, const T* w,
                     const T* dy, T* dx, T* dw, T* db, bool accumulate);

}  // namespace aslnet::kernels::cuda
