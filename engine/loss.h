// The loss at the end of the network: softmax cross-entropy with label smoothing. It owns dlogits, the
// gradient that Model::backward starts from.
#pragma once

#include "engine/core/context.h"
#include "engine/core/tensor.h"

namespace aslnet {

struct LossResult {
  double loss = 0.0;
  int64_t correct = 0;  // top-1 hits in the batch
};

class CrossEntropyLoss {
 public:
  explicit CrossEntropyLoss(double label_smoothing = 0.0) : label_smoothing_(label_smoothing) {}

  // logits [batch, classes], labels i32 [batch]. Fills dlogits() with d(mean loss)/d(logits) * scale
  // (scale = 1 / accumulation steps when gradients of micro-batches are summed).
  LossResult forward_backward(Context& ctx, const Tensor& logits, const Tensor& labels, double scale = 1.0);
  // Loss and hits only (evaluation).
  LossResult evaluate(Context& ctx, const Tensor& logits, const Tensor& labels) const;
  const Tensor& dlogits() const { return dlogits_; }

 private:
  double label_smoothing_;
  Tensor dlogits_;
};

}  // namespace aslnet
