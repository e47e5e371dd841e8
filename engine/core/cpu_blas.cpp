#include "engine/core/cpu_blas.h"

#include <cblas.h>
#include <dlfcn.h>

#include <cstdlib>
#include <mutex>

#include "engine/core/error.h"

namespace aslnet::cpu_blas {

namespace {

struct Library {
  decltype(&cblas_sgemm) sgemm = nullptr;
  decltype(&cblas_dgemm) dgemm = nullptr;
  void (*set_threads)(int) = nullptr;
  char* (*core_name)() = nullptr;
  char* (*config)() = nullptr;
  const char* file = "";
};

// What OpenBLAS would choose on a CPU it knew: AVX-512 (with bf16: Cooper Lake and later) or AVX2.
const char* kernels_for_this_cpu() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512dq"))
    return "SkylakeX";
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
  return nullptr;  // let OpenBLAS decide
}

const Library& library() {
  static Library lib;
  static std::once_flag once;
  std::call_once(once, [] {
    if (const char* chosen = kernels_for_this_cpu(); chosen != nullptr && std::getenv("OPENBLAS_CORETYPE") == nullptr)
      setenv("OPENBLAS_CORETYPE", chosen, 0);
    void* handle = nullptr;
    for (const char* name : {"libopenblas.so.0", "libopenblas.so", "libblas.so.3"}) {
      handle = dlopen(name, RTLD_NOW | RTLD_LOCAL);
      lib.file = name;
      if (handle != nullptr) break;
    }
    ASLNET_CHECK(handle != nullptr) << "cannot load OpenBLAS (libopenblas.so.0): install libopenblas0";
    lib.sgemm = reinterpret_cast<decltype(lib.sgemm)>(dlsym(handle, "cblas_sgemm"));
    lib.dgemm = reinterpret_cast<decltype(lib.dgemm)>(dlsym(handle, "cblas_dgemm"));
    lib.set_threads = reinterpret_cast<decltype(lib.set_threads)>(dlsym(handle, "openblas_set_num_threads"));
    lib.core_name = reinterpret_cast<decltype(lib.core_name)>(dlsym(handle, "openblas_get_corename"));
    lib.config = reinterpret_cast<decltype(lib.config)>(dlsym(handle, "openblas_get_config"));
    ASLNET_CHECK(lib.sgemm != nullptr && lib.dgemm != nullptr) << "the loaded BLAS has no cblas_sgemm/cblas_dgemm";
  });
  return lib;
}

CBLAS_TRANSPOSE op(bool t) { return t ? CblasTrans : CblasNoTrans; }

}  // namespace

void sgemm(bool ta, bool tb, int m, int n, int k, float alpha, const float* a, int lda, const float* b, int ldb,
           float beta, float* c, int ldc) {
  library().sgemm(CblasRowMajor, op(ta), op(tb), m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void dgemm(bool ta, bool tb, int m, int n, int k, double alpha, const double* a, int lda, const double* b, int ldb,
           double beta, double* c, int ldc) {
  library().dgemm(CblasRowMajor, op(ta), op(tb), m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void set_threads(int threads) {
  if (library().set_threads != nullptr) library().set_threads(threads);
}

std::string core_name() { return library().core_name != nullptr ? library().core_name() : "unknown"; }

std::string library_version() {
  if (library().config == nullptr) return library().file;
  std::string text = library().config();
  while (!text.empty() && text.back() == ' ') text.pop_back();
  return text;
}

}  // namespace aslnet::cpu_blas
