// A CPU-only build's stand-ins for kernels/norm_sync.h's CUDA kernels (as kernels/no_gpu/kernels.cpp
// for the other headers): the synchronised batch norm layer still names them, no CPU path calls them.
#include "engine/core/build_config.h"
#include "engine/core/dtype.h"
#include "engine/core/error.h"
#include "kernels/norm_sync.h"

namespace aslnet::kernels::cuda {

namespace {
[[noreturn]] void no_gpu() { throw Error(kNoGpuSupport); }
}  // namespace

int64_t batchnorm_sync_scratch_floats(const NormShape&) { no_gpu(); }
template <class T>
void batchnorm_sync_local_stats(cudaStream_t, const NormShape&, const T*, const float*, float*, float*) {
  no_gpu();
}
void batchnorm_sync_statistics(cudaStream_t, int64_t, const float*, int, double, double, float*, float*, float*,
                               float*) {
  no_gpu();
}
template <class T>
void batchnorm_sync_normalize(cudaStream_t, const NormShape&, const T*, const float*, const float*, const float*,
                              const float*, T*) {
  no_gpu();
}
template <class T>
void batchnorm_sync_local_grad_sums(cudaStream_t, const NormShape&, const T*, const T*, const float*, const float*,
                                    float*, float*, float*, bool, float*) {
  no_gpu();
}
template <class T>
void batchnorm_sync_backward_dx(cudaStream_t, const NormShape&, const T*, const T*, const float*, const float*,
                                const float*, const float*, const float*, T*) {
  no_gpu();
}

#define ASLNET_INSTANTIATE(T)                                                                                    \
  template void batchnorm_sync_local_stats<T>(cudaStream_t, const NormShape&, const T*, const float*, float*,   \
                                              float*);                                                           \
  template void batchnorm_sync_normalize<T>(cudaStream_t, const NormShape&, const T*, const float*, const float*, \
                                            const float*, const float*, T*);                                     \
  template void batchnorm_sync_local_grad_sums<T>(cudaStream_t, const NormShape&, const T*, const T*,            \
                                                  const float*, const float*, float*, float*, float*, bool,      \
                                                  float*);                                                       \
  template void batchnorm_sync_backward_dx<T>(cudaStream_t, const NormShape&, const T*, const T*, const float*,  \
                                              const float*, const float*, const float*, const float*, T*);
ASLNET_INSTANTIATE(float)
ASLNET_INSTANTIATE(bf16)
#undef ASLNET_INSTANTIATE

}  // namespace aslnet::kernels::cuda
