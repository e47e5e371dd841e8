// Optimizers over the flat arenas: one pass updates every parameter (SGD with momentum, Nesterov and
// weight decay, or AdamW), with torch's exact update rules so that runs can be compared step by step.
// Weight decay can exempt batch-norm and bias parameters, as most ImageNet recipes do.
#pragma once

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

class Optimizer {
 public:
  Optimizer(Model& model, OptimizerConfig config);

  // One update with learning rate `lr` from the gradients in the model's gradient arena.
  void step(Context& ctx, double lr);

  // The GPU update in two halves, for CUDA graphs (step() is prepare + enqueue). prepare_gpu_step counts
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
  std::vector<std::pair<std::string, Tensor>> state_tensors() const;

 private:
  struct Segment {
    int64_t offset, count;
    bool decays;
  };
  void step_gpu(Context& ctx, double lr);

  Model& model_;
  OptimizerConfig config_;
  std::vector<Segment> segments_;
  Tensor first_, second_;  // momentum buffer, or AdamW's first and second moments
  int64_t steps_ = 0;
  // GPU: the arena as spans of equal weight decay (device arrays), and the step's hyper-parameters.
  Buffer span_ends_, hyper_host_;  // hyper_host_: page-locked StepHyper
  Tensor span_decay_, hyper_;
  Event hyper_read_;  // recorded after the copy of hyper_host_ is queued
  bool hyper_in_flight_ = false;
  int span_count_ = 0;
};

}  // namespace aslnet
