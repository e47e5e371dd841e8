// The loss at the end of the network: softmax cross-entropy with label smoothing. It owns dlogits, the
// gradient that Model::backward starts from. Training batches may carry soft targets (mixup, cutmix:
// Batch::targets); the labels then name each row's dominant class, which the top-1 hits count.
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
  // (scale = 1 / accumulation steps when gradients of micro-batches are summed). `targets`, when defined,
  // is f32 [batch, classes] on the logits' device, rows summing to 1: the loss is taken against those
  // distributions (smoothed) instead of one-hot labels; undefined: the labels are one-hot.
  LossResult forward_backward(Context& ctx, const Tensor& logits, const Tensor& labels, double scale = 1.0,
                              const Tensor& targets = Tensor());
  // Loss and hits only (evaluation).
  LossResult evaluate(Context& ctx, const Tensor& logits, const Tensor& labels) const;
  const Tensor& dlogits() const { return dlogits_; }

  // GPU: forward_backward without waiting. The loss and hit count stay on the device (summed over the
  // calls since the last reset, so a whole accumulation of micro-batches costs one read) until
  // read_pending() copies them back, which waits for the step. On the CPU, the same calls work
  // (computed at once) so that callers need not care.
  void forward_backward_pending(Context& ctx, const Tensor& logits, const Tensor& labels, double scale = 1.0,
                                const Tensor& targets = Tensor());
  // Mean loss over the images of the pending calls, their hits; resets the pending sums.
  LossResult read_pending(Context& ctx);
  // CUDA graphs: a replay of a captured forward_backward_pending over `rows` rows has been launched (a
  // replay runs no host code, so the pending rows are counted here).
  void note_replayed(int64_t rows);

 private:
  void ensure_buffers(const Tensor& logits);

  double label_smoothing_;
  Tensor dlogits_;
  Tensor loss_sum_, correct_;      // GPU: device sums of the pending calls
  double pending_loss_sum_ = 0.0;  // CPU: host sums of the pending calls
  int64_t pending_correct_ = 0, pending_rows_ = 0;
  bool pending_on_device_ = false;
};

}  // namespace aslnet
