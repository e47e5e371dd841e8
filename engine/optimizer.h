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
  Buffer span_ends_;
  Tensor span_decay_, hyper_;
  int span_count_ = 0;
};

}  // namespace aslnet
