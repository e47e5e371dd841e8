// The pieces of synchronised batch norm (torch.nn.SyncBatchNorm, aslnet train --sync-bn): batch norm
// whose training statistics are those of the global batch over all replicas, not of one replica's
// shard. The fused kernels of kernels/norm.h compute the statistics and use them in one call; here the
// work is split where the replicas must talk (engine/layers/batchnorm_sync.cpp drives it):
//
//   forward:  local_stats -> [all-reduce average of `stats`] -> statistics -> normalize
//   backward: local_grad_sums (also dgamma, dbeta) -> [all-reduce average of `sums`] -> backward_dx
//
// Buffers (the all-reduced ones; double on the CPU, float on a GPU):
//   stats, 2c + 1 values: [sum over rows of (x - shift) per channel | sum of (x - shift)^2 per channel |
//          rows]. `shift` is the layer's running mean, which every replica holds alike (broadcast at
//          the start, then updated from the same global statistics): sums around it rather than
//          around zero keep the variance E[d^2] - E[d]^2 from cancelling when the mean is large against
//          the spread (the running mean is near the batch mean), yet need no extra exchange.
//          After averaging over R replicas, with n = stats[2c] the average row count (N = n * R rows
//          in all): mean = shift + s1 / n, biased var = s2 / n - (s1 / n)^2. Averages rather than sums
//          because that is the all-reduce every communicator has; the ratios are the same.
//   sums,  2c values: [sum of dy per channel | sum of dy * (x - mean) per channel], with the global mean.
//
// The backward (torch's batch_norm_backward_reduce and batch_norm_backward_elemt): with xhat = (x - mean)
// * invstd over the global batch of N rows,
//   dx = gamma * invstd * (dy - mean_N(dy) - xhat * mean_N(dy * xhat))
// where mean_N averages over all N rows of all replicas: mean_N(dy) = sum_dy / n and mean_N(dy * xhat)
// = invstd * sum_dy_xmu / n with the averaged sums (average over replicas divided by average rows).
// dgamma = invstd * sum(dy * (x - mean)) and dbeta = sum(dy) are each replica's own sums over its rows:
// they are parameter gradients, which the gradient reducer averages like any other.
#pragma once

#include <cstdint>

#include "kernels/norm.h"

namespace aslnet::kernels {

namespace cpu {

// stats = [sum(x - shift), sum((x - shift)^2), rows] over this replica's rows.
template <class T>
void batchnorm_sync_local_stats(const NormShape& shape, const T* x, const T* shift, double* stats);
// From the averaged stats (shift = running_mean, read before it is updated): save_mean, save_invstd
// = 1/sqrt(var + eps), and running = (1 - momentum) * running + momentum * batch, with the unbiased
// variance var * N / (N - 1) of the N = round(stats[2c] * replicas) rows, as torch does.
template <class T>
void batchnorm_sync_statistics(int64_t c, const double* stats, int replicas, double momentum, double eps,
                               T* save_mean, T* save_invstd, T* running_mean, T* running_var);
// y = (x - mean) * invstd * gamma + beta.
template <class T>
void batchnorm_sync_normalize(const NormShape& shape, const T* x, const T* gamma, const T* beta, const T* save_mean,
                              const T* save_invstd, T* y);
// sums = [sum(dy), sum(dy * (x - mean))] over this replica's rows; dgamma and dbeta from them
// (overwritten, or added to with `accumulate`).
template <class T>
void batchnorm_sync_local_grad_sums(const NormShape& shape, const T* x, const T* dy, const T* save_mean,
                                    const T* save_invstd, double* sums, T* dgamma, T* dbeta, bool accumulate);
// dx from the averaged sums and the forward's averaged stats (its row count).
template <class T>
void batchnorm_sync_backward_dx(const NormShape& shape, const T* x, const T* dy, const T* gamma, const T* save_mean,
                                const T* save_invstd, const double* sums, const double* stats, T* dx);

}  // namespace cpu
}  // namespace aslnet::kernels

// The CUDA twins: activations T (float or bf16), everything per channel fp32, buffers fp32 (sums taken
// in fp32 per thread, combined in double, over a fixed tree: no atomics, the same bits every run).
// `scratch`: batchnorm_sync_scratch_floats(shape) floats of device memory (the Context's workspace).
#include "engine/core/gpu_types.h"

namespace aslnet::kernels::cuda {

int64_t batchnorm_sync_scratch_floats(const NormShape& shape);

template <class T>
void batchnorm_sync_local_stats(cudaStream_t stream, const NormShape& shape, const T* x, const float* shift,
                                float* stats, float* scratch);
void batchnorm_sync_statistics(cudaStream_t stream, int64_t c, const float* stats, int replicas, double momentum,
                               double eps, float* save_mean, float* save_invstd, float* running_mean,
                               float* running_var);
template <class T>
void batchnorm_sync_normalize(cudaStream_t stream, const NormShape& shape, const T* x, const float* gamma,
                              const float* beta, const float* save_mean, const float* save_invstd, T* y);
template <class T>
void batchnorm_sync_local_grad_sums(cudaStream_t stream, const NormShape& shape, const T* x, const T* dy,
                                    const float* save_mean, const float* save_invstd, float* sums, float* dgamma,
                                    float* dbeta, bool accumulate, float* scratch);
template <class T>
void batchnorm_sync_backward_dx(cudaStream_t stream, const NormShape& shape, const T* x, const T* dy,
                                const float* gamma, const float* save_mean, const float* save_invstd,
                                const float* sums, const float* stats, T* dx);

}  // namespace aslnet::kernels::cuda
