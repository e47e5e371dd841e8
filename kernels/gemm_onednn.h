// The fast CPU matrix product: oneDNN's sgemm (JIT-compiled for this CPU, on oneDNN's OpenMP threads).
// kernels::cpu::gemm<float> calls it instead of OpenBLAS under `--cpu-kernels fast`, for the products
// the fast path still has: the classifier, and the convolutions that stay on im2col (kernels/conv.h,
// where onednn::pays_off says no). The reason is the cores more than the product itself: OpenBLAS
// runs on its own pthreads, which spin (sched_yield) for a while after each call, and on 2 cores they
// then compete with oneDNN's OpenMP team for every convolution that follows (measured: a tenth of the
// resnet18 step in the kernel's scheduler). With this, the fast path computes on one team of threads.
#pragma once

#include <cstdint>

namespace aslnet::kernels::onednn {

// Row-major C = alpha op(A) op(B) + beta C, as cblas_sgemm. A build without oneDNN throws.
void sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
           const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

}  // namespace aslnet::kernels::onednn
