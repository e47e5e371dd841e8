// The training loop: epochs of steps (engine/train_step.h: micro-batches from a BatchSource, gradient
// accumulation over `accum_steps` of them), the learning-rate schedule, validation after each epoch,
// and hooks through which the command line shows progress, writes logs and checkpoints, and asks to
// stop (Ctrl-C).
//
// The host queues steps without waiting for them: the loss stays on the device and is read every
// `log_every` steps and at the end of each epoch (a reading). A non-finite loss is found at the next
// reading; by then the optimizer has refused every update since the first bad step (Optimizer::step),
// so the run stops with the weights of the last good step, and checkpoints are only ever written
// after a reading that found none.
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
#include "engine/train_step.h"

namespace aslnet {

// The step's own options (accum_steps, freeze_batch_norm, reducer: engine/train_step.h) and the loop's.
// With a reducer the trainer also broadcasts rank 0's weights at the start and agrees with the other
// replicas at every reading on the loss, the hits, a non-finite loss and a stop request, so all
// replicas report the same numbers and stop at the same step. Batches are this replica's shard; hooks
// see the totals over all replicas.
struct TrainerOptions : TrainStepOptions {
  int64_t epochs = 10;
  double label_smoothing = 0.0;
  ScheduleConfig schedule;  // total_steps is set by the trainer (epochs x steps per epoch)
  bool cuda_graph = false;  // GPU: replay each step as one CUDA graph (engine/graphed_step.h)
  int64_t log_every = 10;   // optimizer steps between readings of the loss (--log-every)
  // Stop (as should_stop does) once this many optimizer steps are done; 0: never. Every replica
  // counts the same steps, so this needs no agreement and stops at exactly that step.
  int64_t stop_after_steps = 0;
};

struct StepReport {
  int64_t epoch = 0, step = 0, total_steps = 0;  // step: optimizer steps done, over the whole run
  int64_t step_in_epoch = 0, steps_per_epoch = 0;
  double lr = 0.0;
  int64_t images = 0;  // images in this step (over all replicas)
  // The latest reading: mean loss and accuracy over the steps since the one before (NaN before the
  // fit's first reading). `measured`: this step's report brings a new reading (every --log-every steps
  // and at the epoch's end).
  double loss = 0.0, accuracy = 0.0;
  bool measured = false;
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
  // Asked before every step (one replica) or at every reading (replicas, which must agree to stop).
  std::function<bool()> should_stop;
  // Asked after on_epoch: true ends the run after this epoch as a finished one (early stopping; fit
  // returns true). With replicas every one joins an agreement at each epoch's end and one yes ends them
  // all at the same step, so only the replica that validates needs to answer.
  std::function<bool()> end_after_epoch;
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
  // the end of the last epoch, or of the epoch after which end_after_epoch() said yes. Returns false
  // when should_stop() interrupted it.
  bool fit(BatchSource& train, const std::vector<ValidationSet>& val, const TrainerHooks& hooks);
  // One validation set (or none: null), named "val".
  bool fit(BatchSource& train, BatchSource* val, const TrainerHooks& hooks);

  int64_t steps_per_epoch(const BatchSource& train) const;
  const TrainerOptions& options() const { return options_; }

 private:
  struct Run;      // one fit()'s state (trainer.cpp)
  struct Reading;  // the loss since the last reading, agreed over the replicas
  bool train_epoch(Run& run, int64_t epoch, const TrainerHooks& hooks);
  int64_t queue_step(Run& run, double lr);  // returns this replica's images
  Reading read(Run& run, int64_t epoch, bool stop_requested);
  EpochReport validate(int64_t epoch, const std::vector<ValidationSet>& val);
  bool end_after_epoch(Run& run, int64_t epoch, const TrainerHooks& hooks);

  Context& ctx_;
  Model& model_;
  Optimizer& optimizer_;
  TrainerOptions options_;
  CrossEntropyLoss loss_;
  TrainStep step_;
};

}  // namespace aslnet
