// A build without oneDNN: kernels::cpu::gemm never calls this (the fast kernels cannot be chosen).
#include "kernels/gemm_onednn.h"

#include "engine/core/error.h"

namespace aslnet::kernels::onednn {

void sgemm(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*, int64_t, float, float*,
           int64_t) {
  ASLNET_CHECK(false) << "this aslnet was built without oneDNN (the fast CPU kernels): use --cpu-kernels reference";
}

}  // namespace aslnet::kernels::onednn
