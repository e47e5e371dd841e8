// Softmax cross-entropy with label smoothing (torch's definition: the target is (1 - eps) on the
// true class plus eps / classes everywhere), averaged over the batch, and top-1 accuracy.
//
// The soft-target twins take a target distribution per row instead of a label (mixup and cutmix mix
// two one-hot rows, data/mix.h). Each row t (summing to 1) is smoothed as t' = (1 - eps) t + eps / classes,
// which is timm's mixup of smoothed one-hot targets; a one-hot row gives exactly the hard-label result.
#pragma once

#include <cstdint>

namespace aslnet::kernels::cpu {

// Returns the mean loss; writes dlogits = (softmax - target) / batch * scale when dlogits is not null.
template <class T>
double softmax_cross_entropy(int64_t batch, int64_t classes, const T* logits, const int32_t* labels,
                             double label_smoothing, T* dlogits, double scale = 1.0);

// The soft-target loss: `targets` is f32 [batch, classes]; loss = mean over rows of -sum_j t'_j log softmax_j,
// dlogits = (softmax - t') / batch * scale when dlogits is not null.
template <class T>
double softmax_cross_entropy_soft(int64_t batch, int64_t classes, const T* logits, const float* targets,
                                  double label_smoothing, T* dlogits, double scale = 1.0);

// Number of rows whose largest logit (first one on ties) is at the label.
template <class T>
int64_t top1_correct(int64_t batch, int64_t classes, const T* logits, const int32_t* labels);

}  // namespace aslnet::kernels::cpu

// The CUDA version: one launch computes the loss, dlogits and the top-1 hits, and leaves the results
// on the device (loss_sum: the sum over rows of the per-row loss, as one float; correct: the hit count),
// so the host reads them only when it wants to (every N steps) and a step never waits on the host.
// Deterministic: one block, a fixed reduction order.
#include "engine/core/gpu_types.h"

namespace aslnet::kernels::cuda {

// dlogits may be null (evaluation). T is float or bf16 (logits and dlogits); math in fp32.
// `loss_sum` and `correct` are overwritten, or added to with `accumulate` (evaluation over many batches).
template <class T>
void softmax_cross_entropy(cudaStream_t stream, int64_t batch, int64_t classes, const T* logits,
                           const int32_t* labels, double label_smoothing, T* dlogits, double scale, float* loss_sum,
                           int32_t* correct, bool accumulate = false);

// The soft-target twin (see the CPU's): `targets` f32 [batch, classes] on the device; the top-1 hits
// are counted against `labels` (the caller passes each row's dominant label). Same conventions as above,
// and a one-hot `targets` gives the same bits as the hard-label launch.
template <class T>
void softmax_cross_entropy_soft(cudaStream_t stream, int64_t batch, int64_t classes, const T* logits,
                                const float* targets, const int32_t* labels, double label_smoothing, T* dlogits,
                                double scale, float* loss_sum, int32_t* correct, bool accumulate = false);

}  // namespace aslnet::kernels::cuda
