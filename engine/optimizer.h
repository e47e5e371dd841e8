// Optimizers over the flat arenas: one pass updates every parameter (SGD with momentum, Nesterov and
// weight decay, or AdamW), with torch's exact update rules so that runs can be compared step by step.
// Weight decay can exempt batch-norm and bias parameters, as most ImageNet recipes do.
//
// With enable_ema (--ema DECAY) the same pass also keeps an exponential moving average of the weights,
// ema = d ema + (1 - d) p after each update, with timm's (and TensorFlow's) warm-up of the decay,
// d_t = min(DECAY, (1 + t) / (10 + t)) for the update after t earlier ones, so that a short run is not
// an average dominated by the random initialisation. The batch-norm running statistics (the model's
// state arena) are averaged with the same d after each step; the num_batches_tracked counters are
// host integers outside the arena, so the EMA model simply shares the model's. engine/ema_weights.h
// puts the averaged weights into the model for evaluation and inference checkpoints.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "engine/model.h"

namespace aslnet {

struct OptimizerConfig {
  std::string kind = "sgd";  // "sgd" or "adamw"
  double momentum = 0.9;     // sgd
  bool nesterov = false;     // sgd
  double weight_decay = 0.0;
  bool decay_norm_and_bias = true;  // false: no weight decay on batch-norm weights/biases and linear biases
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;  // adamw
};

class EmaWeightsScope;

// ZeRO stage 1 (aslnet train --zero 1; engine/replication/zero_shards.h): the part of the parameter
// arena this replica updates, and the collectives the sharded optimizer needs. The gradient reducer
// makes it (GradientReducer::shard_optimizer), so the optimizer needs no communicator of its own.
struct OptimizerShard {
  std::vector<std::pair<int64_t, int64_t>> owned;  // (offset, count) ranges of the arena, ascending, disjoint
  int replicas = 1;
  // Collective: each replica's owned values of a tensor laid out as the parameter arena into every
  // replica's copy (the weights after an update; the state before a checkpoint).
  std::function<void(Context&, const Tensor&)> gather;
  // Collective: true when any replica passes true (a non-finite gradient in some replica's shard).
  std::function<bool(bool)> any;
  // Collective: every replica passes its shard of one state arena (the owned ranges one after
  // another); replica 0 gets the whole arena (the parameter arena's layout) back, the others an
  // undefined tensor, and they hold no more than one bucket of it at a time (torch's
  // ZeroRedundancyOptimizer.consolidate_state_dict(to=0)).
  std::function<Tensor(Context&, const Tensor&)> assemble;
  // Collective, GPU: replaces a device tensor by its average over the replicas, in the order of the
  // context's stream (the replicas' votes on refusing an update, without the host waiting).
  std::function<void(Context&, const Tensor&)> average;
};

class Optimizer {
 public:
  Optimizer(Model& model, OptimizerConfig config);

  // One update with learning rate `lr` from the gradients in the model's gradient arena. A gradient
  // that holds an infinity or a NaN (an overflowing loss, or a replica's: all-reduced gradients carry
  // it to every replica) changes nothing: the update is refused, and so is every later one, so the
  // weights stay those of the last good step while the caller reads the loss only now and then
  // (engine/trainer.h). first_non_finite_step() says which update was refused first.
  void step(Context& ctx, double lr);
  // The number (from 1) of the first update refused for non-finite gradients, 0 when none was. GPU:
  // waits for the queued updates.
  int64_t first_non_finite_step(Context& ctx) const;

  // The GPU update in three parts, for CUDA graphs (step() is all three). prepare_gpu_step counts
  // the step and writes its learning rate and bias corrections into page-locked host memory, first
  // waiting until the previous step's copy has read them. enqueue_gpu_step queues that copy and the
  // fused update kernel on the stream: it may be captured into a graph, whose replays then re-read the
  // page-locked values. After launching a captured update, call gpu_step_enqueued(ctx).
  void prepare_gpu_step(double lr);
  void enqueue_gpu_step(Context& ctx);
  void gpu_step_enqueued(Context& ctx);

  const OptimizerConfig& config() const { return config_; }
  int64_t step_count() const { return steps_; }
  void set_step_count(int64_t steps) { steps_ = steps; }
  // The state arenas, named for the checkpoint: "momentum_buffer" (sgd), "exp_avg" and "exp_avg_sq"
  // (adamw); each has the parameter arena's layout.
  // Sharded (--zero 1), they are the whole arenas assembled on replica 0 (the one that writes
  // checkpoints) by the last gather_state(), which must have run since the last update (an Error
  // otherwise, and on the other replicas): checkpoints always hold the whole state, so a run resumes
  // with or without --zero, on any number of replicas. The state is allocated (zero) on first use.
  std::vector<std::pair<std::string, Tensor>> state_tensors() const;

  // ZeRO stage 1: from now on keep the state of `shard.owned` only (the rest of the state, fresh or
  // loaded from a checkpoint, is dropped: resuming shards the file's full state again), update only
  // those weights, then all-gather the weights after every update. Every replica must take its shard
  // in the same step. The moving average (--ema) is updated on every replica from the gathered
  // weights, so it stays whole. A refused (non-finite) update is agreed over the replicas, so all of
  // them refuse the same steps (on a GPU in stream order, without the host waiting). In mixed
  // precision the fp32 weights stay whole on every replica (they are the all-gather's target); the bf16
  // copies are recomputed from them after the gather.
  void shard(OptimizerShard shard);
  bool sharded() const { return shard_.replicas > 1; }
  // Collective when sharded (every replica calls it at the same point): assembles the whole state on
  // replica 0 for state_tensors(), until the next update. Nothing when not sharded.
  void gather_state(Context& ctx);
  // Bytes of optimizer state this replica holds (its shard when sharded), and the whole state's.
  int64_t state_bytes() const;
  int64_t full_state_bytes() const;
  // Allocates the state arenas (zero) at the size this replica keeps (its shard once sharded), once.
  // Lazy (the first step, checkpoint or state_bytes() calls it) so that sharding a fresh optimizer
  // never allocates the whole state; the run builder calls it once the shard is known.
  void allocate_state() const;
  const Model& model() const { return model_; }

  // Starts the moving average from the model's current weights and statistics, with the decay
  // `decay` in (0, 1) (an Error naming --ema otherwise). Call it before the first GPU step, so that a
  // captured CUDA graph includes the average's update (an Error otherwise); calling it again restarts
  // the average from the current weights (after loading weights to fine-tune from, say).
  void enable_ema(Context& ctx, double decay);
  bool has_ema() const { return ema_params_.defined(); }
  double ema_decay() const { return ema_decay_; }
  // The averaged parameters (the parameter arena's layout) and batch-norm statistics (the state
  // arena's layout); undefined without enable_ema. Writable: the checkpoint loader restores them.
  const Tensor& ema_parameters() const { return ema_params_; }
  const Tensor& ema_state() const { return ema_state_; }
  // Restarts the average from the model's current weights and statistics (a checkpoint without one).
  void reset_ema();
  // d_t: the decay of the update that follows `earlier_steps` updates, min(decay, (1 + t) / (10 + t)).
  static double ema_decay_at(double decay, int64_t earlier_steps);
  // True while an EmaWeightsScope has put the averaged weights into the model: stepping then would
  // train the average, and a training checkpoint would record it as the weights, so both refuse.
  bool ema_weights_in_model() const { return ema_in_model_; }

 private:
  // Every update (eager CPU, eager GPU, or a GPU step prepared for a graph) starts here: the step count,
  // refused inside an EmaWeightsScope (it would train the averaged weights).
  void begin_step();
  // 1 - d_t of the update being made (after begin_step): how far the average moves toward the weights.
  double ema_rate() const { return 1.0 - ema_decay_at(ema_decay_, steps_ - 1); }
  struct Segment {
    int64_t offset, count;
    bool decays;
    int64_t state = 0;  // where its state starts: = offset, or (sharded) its place in this replica's shard
  };
  void step_gpu(Context& ctx, double lr);
  // The sharded update on a GPU: the agreed non-finite flag, the update of the owned parts, the
  // all-gather, the bf16 copies and the averages.
  void enqueue_sharded_gpu_step(Context& ctx);
  template <class T>
  void average_state(T one_minus_decay);
  // Whether gradients [offset, offset + count) of the arena are all finite.
  template <class T>
  bool gradients_finite(int64_t offset, int64_t count) const;
  // The state arenas this replica holds (its shard when sharded), named as state_tensors().
  std::vector<std::pair<std::string, Tensor>> local_state() const;
  friend class EmaWeightsScope;  // sets ema_in_model_

  Model& model_;
  OptimizerConfig config_;
  std::vector<Segment> segments_;    // what step() updates: every parameter, or (sharded) their owned parts
  std::vector<Segment> parameters_;  // every parameter (the EMA's segments when sharded)
  OptimizerShard shard_;
  std::vector<std::pair<std::string, Tensor>> gathered_;  // gather_state()'s whole state
  int64_t gathered_at_ = -1;                              // the step count it was gathered at
  mutable Tensor first_, second_;  // momentum buffer, or AdamW's first and second moments (allocate_state)
  mutable bool state_allocated_ = false;
  int64_t steps_ = 0;
  Tensor ema_params_, ema_state_;  // the moving averages, in the arenas' type and layout (empty: off)
  double ema_decay_ = 0.0;
  bool ema_in_model_ = false;
  int64_t first_bad_step_ = 0;  // CPU: first_non_finite_step()
  // GPU: the arena as spans of equal weight decay (device arrays), and the step's hyper-parameters.
  Buffer span_ends_, hyper_host_;  // hyper_host_: page-locked StepHyper
  Tensor span_decay_, hyper_;
  Tensor first_bad_;  // i32 [1]: the device's first_non_finite_step()
  Event hyper_read_;  // recorded after the copy of hyper_host_ is queued
  bool hyper_in_flight_ = false;
  int span_count_ = 0;
  std::vector<int64_t> span_ends_host_;  // the spans above, on the host (sharding cuts them per owned part)
  std::vector<float> span_decay_host_;
  // Sharded on a GPU: per owned part of the arena, its spans (ends relative to the part's start).
  struct GpuPart {
    int64_t offset = 0, count = 0, state = 0;
    Buffer ends;
    Tensor decay;
    int spans = 0;
  };
  std::vector<GpuPart> gpu_parts_;
  Tensor vote_;  // f32 [1]: this replica's vote on refusing the update, then the replicas' average
};

}  // namespace aslnet
