#include "engine/replication/sum_to_average.h"

#include "engine/core/parallel.h"

namespace aslnet {

void sum_to_average(const Tensor& buffer, int ranks) {
  if (buffer.dtype() == DType::F64) {
    double* x = buffer.data<double>();
    parallel_for(buffer.numel(), 1 << 16, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) x[i] /= double(ranks);
    });
  } else {
    float* x = buffer.data<float>();
    const float scale = 1.0f / float(ranks);
    parallel_for(buffer.numel(), 1 << 16, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) x[i] *= scale;
    });
  }
}

}  // namespace aslnet
