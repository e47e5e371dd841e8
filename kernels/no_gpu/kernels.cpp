// A CPU-only build's CUDA kernels: every one declared in kernels/*.h, with the instantiations
// kernels/cuda/ provides, each throwing kNoGpuSupport. Compiled only when ASLNET_CUDA is off, in place of
// kernels/cuda/. The layers' forward_cuda and backward_cuda, the loss, the optimizer and the stager
// still name these kernels, so the build links; no CPU path calls them, and a CUDA device, the only way
// to reach them, is refused first (Device::cuda). Keep it in step with the headers.
#include <memory>
#include <vector>

#include "engine/core/build_config.h"
#include "engine/core/dtype.h"
#include "engine/core/error.h"
#include "kernels/conv.h"
#include "kernels/elementwise.h"
#include "kernels/linear.h"
#include "kernels/loss.h"
#include "kernels/norm.h"
#include "kernels/optimizer.h"
#include "kernels/pool.h"
#include "kernels/precision.h"
#include "kernels/replica_average.h"

namespace aslnet::kernels::cuda {

namespace {
[[noreturn]] void no_gpu() { throw Error(kNoGpuSupport); }
}  // namespace

// ---- elementwise.h ----
template <class T>
void relu_forward(cudaStream_t, int64_t, const T*, T*) {
  no_gpu();
}
template <class T>
void relu_backward(cudaStream_t, int64_t, const T*, const T*, T*) {
  no_gpu();
}
template <class T>
void add(cudaStream_t, int64_t, const T*, const T*, T*) {
  no_gpu();
}
template <class T>
void add_inplace(cudaStream_t, int64_t, const T*, T*) {
  no_gpu();
}
template <class T>
void add_relu(cudaStream_t, int64_t, const T*, const T*, T*) {
  no_gpu();
}
template <class From, class To>
void cast(cudaStream_t, int64_t, const From*, To*) {
  no_gpu();
}
template <class T>
void normalize_u8(cudaStream_t, int64_t, int64_t, const uint8_t*, const float*, const float*, T*) {
  no_gpu();
}

// ---- linear.h ----
template <class T>
void gemm(cublasHandle_t, bool, bool, int64_t, int64_t, int64_t, float, const T*, int64_t, const T*, int64_t, float, T*,
          int64_t) {
  no_gpu();
}
template <class T>
void linear_forward(cublasHandle_t, int64_t, int64_t, int64_t, const T*, const T*, const T*, T*) {
  no_gpu();
}
template <class T>
void linear_backward(cublasHandle_t, int64_t, int64_t, int64_t, const T*, const T*, const T*, T*, T*, T*, bool) {
  no_gpu();
}

// ---- loss.h ----
template <class T>
void softmax_cross_entropy(cudaStream_t, int64_t, int64_t, const T*, const int32_t*, double, T*, double, float*,
                           int32_t*, bool) {
  no_gpu();
}
template <class T>
void softmax_cross_entropy_soft(cudaStream_t, int64_t, int64_t, const T*, const float*, const int32_t*, double, T*,
                                double, float*, int32_t*, bool) {
  no_gpu();
}

// ---- norm.h ----
int64_t batchnorm_scratch_floats(const NormShape&) { no_gpu(); }
template <class T>
void batchnorm_forward_train(cudaStream_t, const NormShape&, const T*, const float*, const float*, T*, float*, float*,
                             float*, float*, double, double, float*) {
  no_gpu();
}
template <class T>
void batchnorm_forward_eval(cudaStream_t, const NormShape&, const T*, const float*, const float*, const float*,
                            const float*, double, T*) {
  no_gpu();
}
template <class T>
void batchnorm_backward(cudaStream_t, const NormShape&, const T*, const T*, const float*, const float*, const float*,
                        T*, float*, float*, bool, bool, float*) {
  no_gpu();
}
void batchnorm_frozen_statistics(cudaStream_t, int64_t, const float*, const float*, double, float*, float*) {
  no_gpu();
}

// ---- pool.h ----
template <class T>
void maxpool_forward(cudaStream_t, const PoolShape&, const T*, T*, int32_t*) {
  no_gpu();
}
template <class T>
void maxpool_backward(cudaStream_t, const PoolShape&, const T*, const int32_t*, T*) {
  no_gpu();
}
template <class T>
void global_avgpool_forward(cudaStream_t, int64_t, int64_t, int64_t, const T*, T*) {
  no_gpu();
}
template <class T>
void global_avgpool_backward(cudaStream_t, int64_t, int64_t, int64_t, const T*, T*) {
  no_gpu();
}

// The instantiations kernels/cuda/ provides: float and bf16 for every templated kernel.
#define ASLNET_NO_GPU_KERNELS(T)                                                                                       \
  template void relu_forward<T>(cudaStream_t, int64_t, const T*, T*);                                                  \
  template void relu_backward<T>(cudaStream_t, int64_t, const T*, const T*, T*);                                       \
  template void add<T>(cudaStream_t, int64_t, const T*, const T*, T*);                                                 \
  template void add_inplace<T>(cudaStream_t, int64_t, const T*, T*);                                                   \
  template void add_relu<T>(cudaStream_t, int64_t, const T*, const T*, T*);                                            \
  template void normalize_u8<T>(cudaStream_t, int64_t, int64_t, const uint8_t*, const float*, const float*, T*);       \
  template void gemm<T>(cublasHandle_t, bool, bool, int64_t, int64_t, int64_t, float, const T*, int64_t, const T*,     \
                        int64_t, float, T*, int64_t);                                                                  \
  template void linear_forward<T>(cublasHandle_t, int64_t, int64_t, int64_t, const T*, const T*, const T*, T*);        \
  template void linear_backward<T>(cublasHandle_t, int64_t, int64_t, int64_t, const T*, const T*, const T*, T*, T*,    \
                                   T*, bool);                                                                          \
  template void softmax_cross_entropy<T>(cudaStream_t, int64_t, int64_t, const T*, const int32_t*, double, T*, double, \
                                         float*, int32_t*, bool);                                                      \
  template void softmax_cross_entropy_soft<T>(cudaStream_t, int64_t, int64_t, const T*, const float*, const int32_t*,  \
                                              double, T*, double, float*, int32_t*, bool);                             \
  template void batchnorm_forward_train<T>(cudaStream_t, const NormShape&, const T*, const float*, const float*, T*,   \
                                           float*, float*, float*, float*, double, double, float*);                    \
  template void batchnorm_forward_eval<T>(cudaStream_t, const NormShape&, const T*, const float*, const float*,        \
                                          const float*, const float*, double, T*);                                     \
  template void batchnorm_backward<T>(cudaStream_t, const NormShape&, const T*, const T*, const float*, const float*,  \
                                      const float*, T*, float*, float*, bool, bool, float*);                           \
  template void maxpool_forward<T>(cudaStream_t, const PoolShape&, const T*, T*, int32_t*);                            \
  template void maxpool_backward<T>(cudaStream_t, const PoolShape&, const T*, const int32_t*, T*);                     \
  template void global_avgpool_forward<T>(cudaStream_t, int64_t, int64_t, int64_t, const T*, T*);                      \
  template void global_avgpool_backward<T>(cudaStream_t, int64_t, int64_t, int64_t, const T*, T*);
ASLNET_NO_GPU_KERNELS(float)
ASLNET_NO_GPU_KERNELS(bf16)
#undef ASLNET_NO_GPU_KERNELS
template void cast<float, bf16>(cudaStream_t, int64_t, const float*, bf16*);
template void cast<bf16, float>(cudaStream_t, int64_t, const bf16*, float*);
template void cast<float, float>(cudaStream_t, int64_t, const float*, float*);
template void cast<bf16, bf16>(cudaStream_t, int64_t, const bf16*, bf16*);

// ---- optimizer.h ----
void flag_non_finite(cudaStream_t, int64_t, const float*, const StepHyper*, int32_t*) { no_gpu(); }
void sgd_step(cudaStream_t, int64_t, float*, const float*, float*, bf16*, float*, DecaySpans, const StepHyper*, float,
              bool, const int32_t*) {
  no_gpu();
}
void adamw_step(cudaStream_t, int64_t, float*, const float*, float*, float*, bf16*, float*, DecaySpans,
                const StepHyper*, double, double, double, const int32_t*) {
  no_gpu();
}
void ema_update(cudaStream_t, int64_t, float*, const float*, const StepHyper*, const int32_t*) { no_gpu(); }
void non_finite_vote(cudaStream_t, const int32_t*, float*) { no_gpu(); }
void non_finite_agree(cudaStream_t, const float*, const StepHyper*, int32_t*) { no_gpu(); }

// ---- precision.h, replica_average.h ----
void widen_into(cudaStream_t, int64_t, const bf16*, float*, bool) { no_gpu(); }
void average_replicas(cudaStream_t, const ReplicaBuffers&, int64_t, int64_t) { no_gpu(); }

// ---- conv.h: cuDNN's convolution ----
struct CudnnConv::Impl {};
CudnnConv::CudnnConv(cudnnHandle_t, const ConvShape&, const ConvOptions&) { no_gpu(); }
CudnnConv::~CudnnConv() = default;
CudnnConv::CudnnConv(CudnnConv&&) noexcept = default;
CudnnConv& CudnnConv::operator=(CudnnConv&&) noexcept = default;
const ConvShape& CudnnConv::shape() const { no_gpu(); }
const ConvAlgos& CudnnConv::algos() const { no_gpu(); }
void CudnnConv::set_algos(const ConvAlgos&) { no_gpu(); }
size_t CudnnConv::workspace_bytes() const { no_gpu(); }
std::vector<int> CudnnConv::supported_forward_algos(cudnnHandle_t) const { no_gpu(); }
std::vector<int> CudnnConv::supported_backward_data_algos(cudnnHandle_t) const { no_gpu(); }
std::vector<int> CudnnConv::supported_backward_filter_algos(cudnnHandle_t) const { no_gpu(); }
size_t CudnnConv::forward_workspace_bytes(cudnnHandle_t, int) const { no_gpu(); }
size_t CudnnConv::backward_data_workspace_bytes(cudnnHandle_t, int) const { no_gpu(); }
size_t CudnnConv::backward_filter_workspace_bytes(cudnnHandle_t, int) const { no_gpu(); }
void CudnnConv::forward(cudnnHandle_t, const void*, const void*, void*, void*, size_t) const { no_gpu(); }
void CudnnConv::backward_data(cudnnHandle_t, const void*, const void*, void*, void*, size_t) const { no_gpu(); }
void CudnnConv::backward_filter(cudnnHandle_t, const void*, const void*, void*, void*, size_t, bool) const { no_gpu(); }

}  // namespace aslnet::kernels::cuda
