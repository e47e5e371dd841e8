#include "engine/trainer.h"

#include <chrono>
#include <cmath>
#include <memory>

#include "engine/ema_weights.h"
#include "engine/graphed_step.h"
#include "engine/input_stager.h"

namespace aslnet {

Trainer::Trainer(Context& ctx, Model& model, Optimizer& optimizer, TrainerOptions options)
    : ctx_(ctx), model_(model), optimizer_(optimizer), options_(std::move(options)), loss_(options_.label_smoothing) {
  ASLNET_CHECK(options_.epochs > 0) << "--epochs must be positive, got " << options_.epochs;
  ASLNET_CHECK(options_.accum_steps > 0) << "--accum-steps must be positive, got " << options_.accum_steps;
  ASLNET_CHECK(!options_.cuda_graph || ctx_.device().is_cuda()) << "--cuda-graph needs --device cuda";
  ASLNET_CHECK(!options_.cuda_graph || options_.accum_steps == 1)
      << "--cuda-graph captures one whole step: it does not combine with --accum-steps";
  ASLNET_CHECK(!options_.cuda_graph || (!options_.freeze_batch_norm && options_.reducer == nullptr))
      << "--cuda-graph does not combine with --freeze-bn or with several replicas yet";
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
  const double scale = 1.0 / double(options_.accum_steps);

  int64_t step = optimizer_.step_count();
  GradientReducer* reducer = options_.reducer;
  Communicator* comm = reducer != nullptr ? &reducer->communicator() : nullptr;
  // Replicas start from rank 0's weights, whatever each initialised or loaded.
  if (reducer != nullptr) reducer->broadcast_parameters(ctx_);
  InputStager stager(ctx_, model_, options_.u8_normalization);
  std::unique_ptr<GraphedTrainStep> graphed;
  if (options_.cuda_graph) graphed = std::make_unique<GraphedTrainStep>(ctx_, model_, loss_, optimizer_);
  for (int64_t epoch = step / per_epoch; epoch < options_.epochs; ++epoch) {
    const auto start = std::chrono::steady_clock::now();
    train.start_epoch(epoch);
    Batch batch;
    // A resumed run skips the micro-batches its checkpoint already trained on: the loader is
    // deterministic per epoch, so the rest of the epoch is exactly what the uninterrupted run saw.
    for (int64_t skip = (step % per_epoch) * options_.accum_steps; skip > 0; --skip) train.next(batch);
    double epoch_loss = 0.0;
    int64_t epoch_correct = 0, epoch_images = 0;
    for (int64_t in_epoch = step % per_epoch; in_epoch < per_epoch; ++in_epoch) {
      if (comm == nullptr && hooks.should_stop && hooks.should_stop()) return false;  // replicas agree below
      StepReport report{epoch, step, schedule.total_steps, in_epoch, per_epoch};
      report.lr = learning_rate(schedule, step);
      double loss_sum = 0.0;
      int64_t correct = 0;
      for (int64_t micro = 0; micro < options_.accum_steps; ++micro) {
        ASLNET_CHECK(train.next(batch)) << "the loader ended its epoch early";
        const Batch& input = stager.stage(batch);
        LossResult r;
        if (graphed) {
          graphed->run(input.images, input.labels, report.lr, input.targets);  // forward, loss, backward and update
          r = loss_.read_pending(ctx_);
        } else {
          const Tensor& logits = model_.forward(ctx_, input.images, /*training=*/!options_.freeze_batch_norm);
          loss_.forward_backward_pending(ctx_, logits, input.labels, scale, input.targets);
          // The stream may wait on the last step's all-reduces: wait for it under the watchdog.
          if (comm != nullptr && ctx_.device().is_cuda()) comm->synchronize(ctx_.stream());
          r = loss_.read_pending(ctx_);
        }
        double rows = double(batch.labels.numel()), batch_loss = r.loss * rows, hits = double(r.correct);
        bool finite = std::isfinite(r.loss);
        if (comm != nullptr) {
          // One small agreement per micro-batch: the totals over all replicas, whether any replica's
          // loss is not finite, whether any was asked to stop (Ctrl-C reaches ranks at different
          // moments, yet all must stop at the same step or the others would wait in a collective).
          const bool stop = hooks.should_stop && hooks.should_stop();
          std::vector<double> agreed{finite ? batch_loss : 0.0, hits, rows, finite ? 0.0 : 1.0, stop ? 1.0 : 0.0};
          comm->all_reduce_sum_host(agreed);
          if (agreed[4] > 0) return false;  // before backward: the weights are the last step's
          batch_loss = agreed[0], hits = agreed[1], rows = agreed[2];
          finite = agreed[3] == 0;
          if (!finite) r.loss = std::nan("");
        }
        // A captured step includes the update, so its non-finite loss is seen after the weights in memory
        // are spoilt: only the checkpoints on disk (written before) are kept then.
        if (!finite)
          throw NonFiniteLoss(
              "the loss became " + std::to_string(r.loss) + " at epoch " + std::to_string(epoch + 1) + ", step " +
              std::to_string(step + 1) + (comm != nullptr ? " on some replica" : "") +
              " (hint: a lower --lr, or --warmup-epochs); " +
              (graphed ? "the last checkpoint written is kept" : "the weights of the step before are kept"));
        if (!graphed) {
          // With accumulation only the last micro-batch's backward all-reduces (DDP's no_sync): the
          // others just add their gradients up locally.
          if (reducer != nullptr) reducer->begin_backward(ctx_, /*reduce=*/micro + 1 == options_.accum_steps);
          model_.backward(ctx_, loss_.dlogits(), /*accumulate=*/micro > 0);
        }
        loss_sum += batch_loss;
        correct += int64_t(hits);
        report.images += int64_t(rows);
      }
      if (reducer != nullptr) reducer->finish(ctx_);
      if (!graphed) optimizer_.step(ctx_, report.lr);
      ++step;
      report.step = step;
      report.loss = loss_sum / double(report.images);
      report.accuracy = double(correct) / double(report.images);
      epoch_loss += loss_sum;
      epoch_correct += correct;
      epoch_images += report.images;
      if (hooks.on_step) hooks.on_step(report);
    }
    // The epoch's last update may still wait on its all-reduces: validation and checkpoints read the
    // weights with plain synchronisations, so wait here, under the watchdog.
    if (comm != nullptr && ctx_.device().is_cuda()) comm->synchronize(ctx_.stream());
    EpochReport er;
    er.epoch = epoch;
    er.train_loss = epoch_images ? epoch_loss / double(epoch_images) : 0.0;
    er.train_accuracy = epoch_images ? double(epoch_correct) / double(epoch_images) : 0.0;
    for (const ValidationSet& set : val) {
      er.has_val = true;
      er.val_sets.emplace_back(set.name, evaluate(ctx_, model_, *set.source, 0, options_.u8_normalization));
      er.val += er.val_sets.back().second;
    }
    if (optimizer_.has_ema() && !val.empty()) {
      EmaWeightsScope averaged(ctx_, model_, optimizer_);
      er.has_ema_val = true;
      for (const ValidationSet& set : val) {
        er.ema_val_sets.emplace_back(set.name, evaluate(ctx_, model_, *set.source, 0, options_.u8_normalization));
        er.ema_val += er.ema_val_sets.back().second;
      }
    }
    er.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (hooks.on_epoch) hooks.on_epoch(er);
  }
  return true;
}

}  // namespace aslnet
