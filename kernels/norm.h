// Batch normalisation over the channel (last) axis of NHWC activations: rows = N*H*W, c channels.
// Training uses the batch's statistics and updates running averages as torch does (momentum 0.1,
// unbiased variance in the running average, biased variance for normalising); evaluation uses the
// running statistics. Backward is the gradient of whichever forward ran: batch statistics (training)
// or fixed ones (evaluation, so that a network can be fine-tuned with "frozen" batch norm as torch's
// model.eval() does).
#pragma once

#include <cstdint>

namespace aslnet::kernels {

struct NormShape {
  int64_t rows = 0;
  int64_t c = 0;
};

namespace cpu {

// Writes y, the batch mean and 1/sqrt(var + eps) (saved for backward), and updates the running
// statistics: running = (1 - momentum) * running + momentum * batch.
template <class T>
void batchnorm_forward_train(const NormShape& shape, const T* x, const T* gamma, const T* beta, T* y,
                             T* save_mean, T* save_invstd, T* running_mean, T* running_var, double momentum,
                             double eps);
template <class T>
void batchnorm_forward_eval(const NormShape& shape, const T* x, const T* gamma, const T* beta,
                            const T* running_mean, const T* running_var, double eps, T* y);
// Gradients of the forward. With `batch_statistics` (training), save_mean and save_invstd are the
// batch's, which depend on x, so dx carries the terms through the mean and variance. Without (the
// forward used fixed statistics: pass batchnorm_frozen_statistics' output), dx = gamma * invstd * dy.
// dgamma = sum(dy * (x - mean) * invstd) and dbeta = sum(dy) either way. dx is overwritten; dgamma and
// dbeta are overwritten or, with `accumulate`, added to.
template <class T>
void batchnorm_backward(const NormShape& shape, const T* x, const T* dy, const T* gamma, const T* save_mean,
                        const T* save_invstd, T* dx, T* dgamma, T* dbeta, bool accumulate, bool batch_statistics);
// What the evaluation forward normalised with, in the form backward takes: save_mean = running_mean,
// save_invstd = 1/sqrt(running_var + eps), for c channels. The evaluation forward does not write them
// (it stays one pass); backward after it calls this first.
template <class T>
void batchnorm_frozen_statistics(int64_t c, const T* running_mean, const T* running_var, double eps, T* save_mean,
                                 T* save_invstd);

}  // namespace cpu
}  // namespace aslnet::kernels

// The CUDA versions (hand-written NHWC kernels). Activations x, y, dy, dx are T (float or bf16);
// gamma, beta, the saved and running statistics and the parameter gradients are always fp32 (mixed
// precision keeps parameters in fp32). Statistics are accumulated in fp32 over a fixed reduction tree,
// so results do not depend on timing. `scratch` is device memory of batchnorm_scratch_floats(shape)
// floats, taken from the Context's workspace (nothing is allocated inside a step).
#include "engine/core/gpu_types.h"

namespace aslnet::kernels::cuda {

int64_t batchnorm_scratch_floats(const NormShape& shape);

template <class T>
void batchnorm_forward_train(cudaStream_t stream, const NormShape& shape, const T* x, const float* gamma,
                             const float* beta, T* y, float* save_mean, float* save_invstd, float* running_mean,
                             float* running_var, double momentum, double eps, float* scratch);
template <class T>
void batchnorm_forward_eval(cudaStream_t stream, const NormShape& shape, const T* x, const float* gamma,
                            const float* beta, const float* running_mean, const float* running_var, double eps, T* y);
template <class T>
void batchnorm_backward(cudaStream_t stream, const NormShape& shape, const T* x, const T* dy, const float* gamma,
                        const float* save_mean, const float* save_invstd, T* dx, float* dgamma, float* dbeta,
                        bool accumulate, bool batch_statistics, float* scratch);
void batchnorm_frozen_statistics(cudaStream_t stream, int64_t c, const float* running_mean, const float* running_var,
                                 double eps, float* save_mean, float* save_invstd);

}  // namespace aslnet::kernels::cuda
