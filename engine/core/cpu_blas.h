// The CPU's BLAS (OpenBLAS), loaded at first use rather than linked, for one reason: OpenBLAS picks
// its kernels once, when it is loaded, from the CPU it recognises, and OpenBLAS 0.3.21 (Debian 12)
// does not recognise recent Xeons: it falls back to its generic "Prescott" kernels, 6x slower than
// its AVX-512 ones on the same machine (17 against 106 GFLOP/s for one core, measured here). Loading
// it ourselves lets us name the kernels from the CPU's own feature flags first (OPENBLAS_CORETYPE),
// unless the user already chose.
#pragma once

#include <cstdint>
#include <string>

namespace aslnet::cpu_blas {

// Row-major C = alpha op(A) op(B) + beta C, as cblas_sgemm / cblas_dgemm.
void sgemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, int lda, const float* b,
           int ldb, float beta, float* c, int ldc);
void dgemm(bool trans_a, bool trans_b, int m, int n, int k, double alpha, const double* a, int lda, const double* b,
           int ldb, double beta, double* c, int ldc);

void set_threads(int threads);
// The kernel family OpenBLAS runs ("SkylakeX", "Haswell", ...).
std::string core_name();
// The library's own description of itself ("OpenBLAS 0.3.21 DYNAMIC_ARCH ..."), or its file name when it
// does not say (a reference BLAS).
std::string library_version();

}  // namespace aslnet::cpu_blas
