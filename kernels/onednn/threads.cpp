#include "kernels/onednn/threads.h"

#include <omp.h>

#include "engine/core/context.h"

namespace aslnet::kernels::onednn {

void use_engine_threads() {
  const int threads = Context::cpu_threads();
  if (omp_get_max_threads() != threads) omp_set_num_threads(threads);
}

}  // namespace aslnet::kernels::onednn
