// The training step, written once. TrainStep queues one micro-batch: forward in training mode, the
// loss and its gradient (kept pending on the device: CrossEntropyLoss::read_pending), backward with
// the replication module's hook, adding to the gradients of the step's earlier micro-batches; after
// the last micro-batch of a step, the gradient all-reduce's finish and the optimizer's update. It
// never waits for the device: a non-finite loss shows up in the pending loss and makes the optimizer
// refuse the update (Optimizer::step), and the caller reads both when it chooses (engine/trainer.h).
//
// Trainer::fit, the CUDA graph (engine/graphed_step.h captures this same call), the benchmarks and the
// tests all train through it; train_step() is the one-call form for a whole step on one batch.
#pragma once

#include "engine/loss.h"
#include "engine/model.h"
#include "engine/optimizer.h"
#include "engine/replication/gradient_reducer.h"

namespace aslnet {

struct TrainStepOptions {
  int64_t accum_steps = 1;  // micro-batches per optimizer step; their gradients are summed, each scaled 1/n
  // Batch norm in evaluation mode while training (--freeze-bn): running statistics stay fixed.
  bool freeze_batch_norm = false;
  // Data parallelism: this replica's reducer. Only the last micro-batch's backward all-reduces (DDP's
  // no_sync for the others), and the update waits for its buckets.
  GradientReducer* reducer = nullptr;
  // False: the reducer's hooks run but nothing is all-reduced (what a step costs without communication,
  // for bench/replication_step).
  bool all_reduce = true;
};

class TrainStep {
 public:
  TrainStep(Context& ctx, Model& model, CrossEntropyLoss& loss, Optimizer& optimizer, TrainStepOptions options = {});

  // Queues micro-batch `micro` (0 .. accum_steps - 1) of a step on `images` and `labels` (the model's
  // input type and device; i32 labels), with soft `targets` (mixup, cutmix) or undefined for one-hot
  // labels. The last micro-batch ends with the update at learning rate `lr`.
  void queue(int64_t micro, const Tensor& images, const Tensor& labels, const Tensor& targets, double lr);

  const TrainStepOptions& options() const { return options_; }
  Context& context() const { return ctx_; }
  Model& model() const { return model_; }
  CrossEntropyLoss& loss() const { return loss_; }
  Optimizer& optimizer() const { return optimizer_; }

 private:
  friend class GraphedTrainStep;  // sets update_prepared_ around its capture
  Context& ctx_;
  Model& model_;
  CrossEntropyLoss& loss_;
  Optimizer& optimizer_;
  TrainStepOptions options_;
  // Inside a CUDA graph capture the update's learning rate has been prepared outside the capture
  // (Optimizer::prepare_gpu_step), so the step queues only the update itself.
  bool update_prepared_ = false;
};

// One whole step on one batch (no accumulation, no replicas): queues it and reads its loss.
LossResult train_step(Context& ctx, Model& model, CrossEntropyLoss& loss, Optimizer& optimizer, const Tensor& images,
                      const Tensor& labels, double lr);

}  // namespace aslnet
