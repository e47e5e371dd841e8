#include <dnnl.h>

#include "engine/core/error.h"
#include "kernels/gemm_onednn.h"
#include "kernels/onednn/threads.h"

namespace aslnet::kernels::onednn {

void sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
           const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  use_engine_threads();
  const dnnl_status_t status =
      dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  ASLNET_CHECK(status == dnnl_success) << "oneDNN sgemm failed (status " << int(status) << ") for " << m << "x" << n
                                       << "x" << k;
}

}  // namespace aslnet::kernels::onednn
