// Softmax cross-entropy with label smoothing (torch's definition: the target is (1 - eps) on the
// true class plus eps / classes everywhere), averaged over the batch, and top-1 accuracy.
#pragma once

#include <cstdint>

namespace aslnet::kernels::cpu {

// Returns the mean loss; writes dlogits = (softmax - target) / batch * scale when dlogits is not null.
template <class T>
double softmax_cross_entropy(int64_t batch, int64_t classes, const T* logits, const int32_t* labels,
                             double label_smoothing, T* dlogits, double scale = 1.0);

// Number of rows whose largest logit (first one on ties) is at the label.
template <class T>
int64_t top1_correct(int64_t batch, int64_t classes, const T* logits, const int32_t* labels);

}  // namespace aslnet::kernels::cpu
