// Row-major matrix products: the one place the CPU kernels reach BLAS (see engine/core/cpu_blas.h), or
// oneDNN's sgemm under --cpu-kernels fast (kernels/gemm_onednn.h says why).
#include "engine/core/cpu_blas.h"
#include "kernels/cpu_kernels.h"
#include "kernels/gemm_onednn.h"
#include "kernels/linear.h"

namespace aslnet::kernels::cpu {

template <>
void gemm<float>(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
                 const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  if (cpu_kernels() == CpuKernels::Fast) return onednn::sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  cpu_blas::sgemm(ta, tb, int(m), int(n), int(k), alpha, a, int(lda), b, int(ldb), beta, c, int(ldc));
}

template <>
void gemm<double>(bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha, const double* a, int64_t lda,
                  const double* b, int64_t ldb, double beta, double* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  cpu_blas::dgemm(ta, tb, int(m), int(n), int(k), alpha, a, int(lda), b, int(ldb), beta, c, int(ldc));
}

}  // namespace aslnet::kernels::cpu
