#include "engine/trainer.h"

#include <chrono>
#include <cmath>
#include <memory>

#include "engine/ema_weights.h"
#include "engine/graphed_step.h"
#include "engine/input_stager.h"

namespace aslnet {

// One fit()'s state: where the steps come from and go, and what the epoch has measured so far.
struct Trainer::Run {
  Run(BatchSource& train, int64_t per_epoch, const ScheduleConfig& schedule, Communicator* comm, InputStager stager)
      : train(train), per_epoch(per_epoch), schedule(schedule), comm(comm), stager(std::move(stager)) {}
  BatchSource& train;
  int64_t per_epoch;
  ScheduleConfig schedule;
  Communicator* comm;
  InputStager stager;
  std::unique_ptr<GraphedTrainStep> graphed;
  Batch batch;
  int64_t unread_rows = 0;  // this replica's images queued since the last reading
  int64_t unread_from = 0;  // the first optimizer step since the last reading (from 1)
  int64_t resumed_at = 0;   // the optimizer's step count when fit() began (0: a fresh run)
  double last_loss = std::nan(""), last_accuracy = std::nan("");  // NaN: no reading yet
  double epoch_loss = 0.0;                                        // sums over the epoch's readings (all replicas)
  int64_t epoch_hits = 0, epoch_images = 0;
};

struct Trainer::Reading {
  double loss_sum = 0.0;
  int64_t hits = 0, images = 0;
  bool stop = false;  // some replica was asked to stop
};

Trainer::Trainer(Context& ctx, Model& model, Optimizer& optimizer, TrainerOptions options)
    : ctx_(ctx),
      model_(model),
      optimizer_(optimizer),
      options_(std::move(options)),
      loss_(options_.label_smoothing),
      step_(ctx, model, loss_, optimizer, options_) {
  ASLNET_CHECK(options_.epochs > 0) << "--epochs must be positive, got " << options_.epochs;
  ASLNET_CHECK(options_.log_every > 0) << "--log-every must be positive, got " << options_.log_every;
  ASLNET_CHECK(!options_.cuda_graph || ctx_.device().is_cuda()) << "--cuda-graph needs --device cuda";
}

int64_t Trainer::steps_per_epoch(const BatchSource& train) const {
  return train.batches_per_epoch() / options_.accum_steps;
}

bool Trainer::fit(BatchSource& train, BatchSource* val, const TrainerHooks& hooks) {
  std::vector<ValidationSet> sets;
  if (val != nullptr) sets.push_back({"val", val});
  return fit(train, sets, hooks);
}

bool Trainer::fit(BatchSource& train, const std::vector<ValidationSet>& val, const TrainerHooks& hooks) {
  const int64_t per_epoch = steps_per_epoch(train);
  ASLNET_CHECK(per_epoch > 0) << "an epoch has " << train.batches_per_epoch() << " batches, fewer than --accum-steps "
                              << options_.accum_steps;
  ScheduleConfig schedule = options_.schedule;
  schedule.total_steps = per_epoch * options_.epochs;
  Communicator* comm = options_.reducer != nullptr ? &options_.reducer->communicator() : nullptr;
  // Replicas start from rank 0's weights, whatever each initialised or loaded.
  if (options_.reducer != nullptr) options_.reducer->broadcast_parameters(ctx_);
  Run run(train, per_epoch, schedule, comm, InputStager(ctx_, model_));
  if (options_.cuda_graph) run.graphed = std::make_unique<GraphedTrainStep>(step_);
  run.unread_from = optimizer_.step_count() + 1;
  run.resumed_at = optimizer_.step_count();
  for (int64_t epoch = optimizer_.step_count() / per_epoch; epoch < options_.epochs; ++epoch) {
    const auto start = std::chrono::steady_clock::now();
    if (!train_epoch(run, epoch, hooks)) {
      // A stopped run writes a checkpoint: a sharded optimizer (--zero 1) assembles its whole state
      // first, on every replica (the stop was agreed, so all are here).
      optimizer_.gather_state(ctx_);
      return false;
    }
    // The epoch's last update may still wait on its all-reduces: validation and checkpoints read the
    // weights with plain synchronisations, so wait here, under the watchdog.
    if (comm != nullptr && ctx_.device().is_cuda()) comm->synchronize(ctx_.stream());
    // The lead may write a checkpoint after this epoch: a sharded optimizer's whole state, gathered by
    // every replica (ZeroRedundancyOptimizer's consolidate_state_dict). Nothing without --zero 1.
    optimizer_.gather_state(ctx_);
    EpochReport report = validate(epoch, val);
    report.train_loss = run.epoch_images ? run.epoch_loss / double(run.epoch_images) : 0.0;
    report.train_accuracy = run.epoch_images ? double(run.epoch_hits) / double(run.epoch_images) : 0.0;
    report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (hooks.on_epoch) hooks.on_epoch(report);
    if (end_after_epoch(run, epoch, hooks)) break;
  }
  return true;
}

bool Trainer::end_after_epoch(Run& run, int64_t epoch, const TrainerHooks& hooks) {
  if (epoch + 1 == options_.epochs) return false;  // the last epoch: nothing to agree on
  bool end = hooks.end_after_epoch && hooks.end_after_epoch();
  if (run.comm != nullptr) {
    // Only the validating replica knows; the others would otherwise start the next epoch's
    // collectives without it. One small agreement per epoch, which also waits out its validation.
    std::vector<double> votes{end ? 1.0 : 0.0};
    run.comm->all_reduce_sum_host(votes);
    end = votes[0] > 0;
  }
  return end;
}

bool Trainer::train_epoch(Run& run, int64_t epoch, const TrainerHooks& hooks) {
  run.train.start_epoch(epoch);
  run.epoch_loss = 0.0;
  run.epoch_hits = run.epoch_images = 0;
  int64_t step = optimizer_.step_count();
  // A resumed run skips the micro-batches its checkpoint already trained on: the loader is
  // deterministic per epoch, so the rest of the epoch is exactly what the uninterrupted run saw.
  for (int64_t skip = (step % run.per_epoch) * options_.accum_steps; skip > 0; --skip) run.train.next(run.batch);
  const int replicas = run.comm != nullptr ? run.comm->size() : 1;
  for (int64_t in_epoch = step % run.per_epoch; in_epoch < run.per_epoch; ++in_epoch) {
    // One replica stops when asked; replicas must agree first, which they do at the readings.
    const bool stop_after = options_.stop_after_steps > 0 && step >= options_.stop_after_steps;
    const bool asked = run.comm == nullptr && hooks.should_stop && hooks.should_stop();
    if (stop_after || asked) {
      read(run, epoch, false);  // a stopped run's weights are saved: they must be good ones
      return false;
    }
    StepReport report{epoch, step, run.schedule.total_steps, in_epoch, run.per_epoch};
    report.lr = learning_rate(run.schedule, step);
    report.images = queue_step(run, report.lr) * replicas;
    report.step = ++step;
    report.measured = step % options_.log_every == 0 || in_epoch + 1 == run.per_epoch;
    if (report.measured) {
      const Reading r = read(run, epoch, run.comm != nullptr && hooks.should_stop && hooks.should_stop());
      run.last_loss = r.images ? r.loss_sum / double(r.images) : 0.0;
      run.last_accuracy = r.images ? double(r.hits) / double(r.images) : 0.0;
      run.epoch_loss += r.loss_sum;
      run.epoch_hits += r.hits;
      run.epoch_images += r.images;
      if (r.stop) return false;
    }
    report.loss = run.last_loss;
    report.accuracy = run.last_accuracy;
    if (hooks.on_step) hooks.on_step(report);
  }
  return true;
}

int64_t Trainer::queue_step(Run& run, double lr) {
  int64_t rows = 0;
  for (int64_t micro = 0; micro < options_.accum_steps; ++micro) {
    ASLNET_CHECK(run.train.next(run.batch)) << "the loader ended its epoch early";
    const Batch& input = run.stager.stage(run.batch);
    if (run.graphed)
      run.graphed->run(input.images, input.labels, lr, input.targets);
    else
      step_.queue(micro, input.images, input.labels, input.targets, lr);
    rows += run.batch.labels.numel();
  }
  run.unread_rows += rows;
  return rows;
}

Trainer::Reading Trainer::read(Run& run, int64_t epoch, bool stop_requested) {
  // The stream may wait on the last step's all-reduces: wait for it under the watchdog.
  if (run.comm != nullptr && ctx_.device().is_cuda()) run.comm->synchronize(ctx_.stream());
  const LossResult pending = loss_.read_pending(ctx_);
  const int64_t first_refused = optimizer_.first_non_finite_step(ctx_);
  Reading r{pending.loss * double(run.unread_rows), pending.correct, run.unread_rows, stop_requested};
  bool finite = std::isfinite(r.loss_sum) && first_refused == 0;
  if (run.comm != nullptr) {
    // One small agreement per reading: the totals over all replicas, whether any replica's loss is not
    // finite, whether any was asked to stop (Ctrl-C reaches ranks at different moments, yet all must
    // stop at the same step or the others would wait in a collective).
    std::vector<double> agreed{finite ? r.loss_sum : 0.0, double(r.hits), double(r.images), finite ? 0.0 : 1.0,
                               r.stop ? 1.0 : 0.0};
    run.comm->all_reduce_sum_host(agreed);
    r = {agreed[0], int64_t(agreed[1]), int64_t(agreed[2]), agreed[4] > 0};
    finite = agreed[3] == 0;
  }
  const int64_t from = run.unread_from, to = optimizer_.step_count();
  run.unread_rows = 0;
  run.unread_from = to + 1;
  if (finite) return r;
  std::string where =
      from == to ? "at step " + std::to_string(to) : "in steps " + std::to_string(from) + "-" + std::to_string(to);
  if (first_refused > 0) where = "at step " + std::to_string(first_refused);
  // Right after a resume, the checkpoint (or the options it was resumed with) is the likelier cause.
  const std::string hint =
      run.resumed_at > 0 && from == run.resumed_at + 1
          ? "hint: it diverged in the first steps after resuming from step " + std::to_string(run.resumed_at) +
                ": resume from an earlier checkpoint, with the options that run had, or a lower --lr"
          : "hint: a lower --lr, or --warmup-epochs";
  throw NonFiniteLoss("the loss stopped being a finite number " + where + " (epoch " + std::to_string(epoch + 1) +
                      (run.comm != nullptr ? ", on some replica" : "") + "; " + hint +
                      "); the optimizer refused that update and every one after it, so the weights are those of "
                      "the step before");
}

EpochReport Trainer::validate(int64_t epoch, const std::vector<ValidationSet>& val) {
  EpochReport er;
  er.epoch = epoch;
  for (const ValidationSet& set : val) {
    er.has_val = true;
    er.val_sets.emplace_back(set.name, evaluate(ctx_, model_, *set.source));
    er.val += er.val_sets.back().second;
  }
  if (optimizer_.has_ema() && !val.empty()) {
    EmaWeightsScope averaged(ctx_, model_, optimizer_);
    er.has_ema_val = true;
    for (const ValidationSet& set : val) {
      er.ema_val_sets.emplace_back(set.name, evaluate(ctx_, model_, *set.source));
      er.ema_val += er.ema_val_sets.back().second;
    }
  }
  return er;
}

}  // namespace aslnet
