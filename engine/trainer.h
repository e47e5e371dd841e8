// The training loop: epochs of micro-batches from a BatchSource, gradient accumulation over
// `accum_steps` micro-batches per optimizer step, the learning-rate schedule, validation after each
// epoch, and hooks through which the command line shows progress, writes logs and checkpoints, and asks
// to stop (Ctrl-C). A non-finite loss stops training before the optimizer touches the weights, so the
// last good weights (and checkpoint) survive.
#pragma once

#include <functional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "engine/core/batch_source.h"
#include "engine/evaluate.h"
#include "engine/loss.h"
#include "engine/optimizer.h"
#include "engine/replication/gradient_reducer.h"
#include "engine/schedule.h"

namespace aslnet {

struct TrainerOptions {
  int64_t epochs = 10;
  int64_t accum_steps = 1;
  double label_smoothing = 0.0;
  ScheduleConfig schedule;              // total_steps is set by the trainer (epochs x steps per epoch)
  bool cuda_graph = false;              // GPU: replay each step as one CUDA graph (engine/graphed_step.h)
  Normalization u8_normalization;  // for loaders that hand over raw u8 pixels (GPU runs)
  // Batch norm in evaluation mode while training (--freeze-bn): running statistics stay fixed and
  // normalise every batch; the affine weights still learn.
  bool freeze_batch_norm = false;
  // Data parallelism: this replica's reducer (engine/replication/). Set, the trainer broadcasts rank
  // 0's weights at the start, averages gradients over the replicas every optimizer step, and agrees
  // with the other replicas once per micro-batch on the loss, the hits, a non-finite loss and a stop
  // request, so all replicas report the same numbers and stop at the same step. Batches are this
  // replica's shard; hooks see the totals over all replicas.
  GradientReducer* reducer = nullptr;
};

struct StepReport {
  int64_t epoch = 0, step = 0, total_steps = 0;  // step: optimizer steps done, over the whole run
  int64_t step_in_epoch = 0, steps_per_epoch = 0;
  double loss = 0.0, accuracy = 0.0, lr = 0.0;  // of this step's micro-batches
  int64_t images = 0;                           // images in this step (over all replicas)
};

// A named validation set: runs that train on several sources report each one's figures apart.
struct ValidationSet {
  std::string name;
  BatchSource* source = nullptr;
};

struct EpochReport {
  int64_t epoch = 0;
  double train_loss = 0.0, train_accuracy = 0.0;
  bool has_val = false;
  EvalResult val;                                            // over every validation image (the sets together)
  std::vector<std::pair<std::string, EvalResult>> val_sets;  // each set's own figures, in the order given
  // With the optimizer's moving average of the weights (--ema): the same figures for the averaged model.
  bool has_ema_val = false;
  EvalResult ema_val;
  std::vector<std::pair<std::string, EvalResult>> ema_val_sets;
  double seconds = 0.0;
};

struct TrainerHooks {
  std::function<void(const StepReport&)> on_step;
  std::function<void(const EpochReport&)> on_epoch;  // after validation
  std::function<bool()> should_stop;                 // checked before every step
};

// Thrown when the loss stops being a finite number.
class NonFiniteLoss : public Error {
 public:
  using Error::Error;
};

class Trainer {
 public:
  Trainer(Context& ctx, Model& model, Optimizer& optimizer, TrainerOptions options);

  // Trains from optimizer step `optimizer.step_count()` (0, or where a resumed checkpoint stopped) to
  // the end of the last epoch. Returns false when should_stop() interrupted it.
  bool fit(BatchSource& train, const std::vector<ValidationSet>& val, const TrainerHooks& hooks);
  // One validation set (or none: null), named "val".
  bool fit(BatchSource& train, BatchSource* val, const TrainerHooks& hooks);

  int64_t steps_per_epoch(const BatchSource& train) const;
  const TrainerOptions& options() const { return options_; }

 private:
  Context& ctx_;
  Model& model_;
  Optimizer& optimizer_;
  TrainerOptions options_;
  CrossEntropyLoss loss_;
};

}  // namespace aslnet
