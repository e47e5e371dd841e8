// Model: a network (a Sequential of layers and residual blocks) plus the flat arenas that hold its
// parameters, gradients and batch-norm statistics. Parameters are laid out in reverse layer order,
// so the gradients backward finishes first are contiguous at the front of the gradient arena (where
// the replication module's first all-reduce bucket starts). One arena means one all-reduce can cover
// many tensors, one optimizer pass updates everything, and a checkpoint is a few big writes.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine/layer.h"
#include "engine/layers/sequential.h"
#include "engine/model_info.h"

namespace aslnet {

class Model {
 public:
  // Allocates the arenas (zeroed) and binds every parameter to its slice; nothing else is allocated
  // until setup(). `dtype` is the compute type: f32 or f64 (CPU), f32 or bf16 (CUDA). bf16 is mixed
  // precision: activations and weight copies in bf16; master weights, gradients, batch-norm statistics
  // and optimizer state in fp32 (the arenas' type, dtype()).
  Model(std::unique_ptr<Sequential> net, ModelInfo info, DType dtype = DType::F32, Device device = Device::cpu());

  // Allocates activations, gradients and workspace for inputs of [batch, height, width, in_channels].
  void setup(Context& ctx, int64_t batch, int64_t height, int64_t width);
  bool is_setup() const { return input_shape_.rank() != 0; }
  const Shape& input_shape() const { return input_shape_; }

  // x: [batch, height, width, channels] (NHWC). Returns logits [batch, classes].
  const Tensor& forward(Context& ctx, const Tensor& x, bool training);
  void backward(Context& ctx, const Tensor& dlogits, bool accumulate = false);
  // Calls `hook` once per backward for each layer that owns parameters, right after that layer's
  // backward, with its parameters, whose gradients are then final (engine/layer.h; the replication
  // module's GradientReducer installs it). An empty hook removes it.
  void set_backward_hook(BackwardHook hook);

  const ModelInfo& info() const { return info_; }
  // The arenas' type (parameters, gradients, statistics, optimizer state).
  DType dtype() const { return master_dtype_; }
  // The type of activations and of the weights layers compute with (the input's type too).
  DType compute_dtype() const { return dtype_; }
  bool mixed_precision() const { return dtype_ != master_dtype_; }
  Device device() const { return device_; }
  const std::vector<Parameter*>& parameters() const { return parameters_; }
  const std::vector<StateTensor*>& state() const { return state_; }
  const std::vector<Counter*>& counters() const { return counters_; }
  Parameter* find_parameter(const std::string& name) const;

  // The flat arenas: every parameter (gradient) is a slice of these.
  const Tensor& parameter_arena() const { return params_; }
  const Tensor& gradient_arena() const { return grads_; }
  const Tensor& state_arena() const { return state_arena_; }
  // bf16 copies of the parameters, in the parameter arena's layout (undefined without mixed precision).
  const Tensor& compute_arena() const { return compute_; }

  // Call after writing the parameter arena from outside the optimizer (loading, copying): the bf16
  // copies are refreshed at the next forward.
  void parameters_changed() { compute_stale_ = true; }
  // Copies another model's parameters, statistics and counters (same architecture, any device): how a
  // GPU model gets the weights initialised on the CPU.
  void copy_weights_from(const Model& other);
  // CUDA graphs: a replayed training forward runs no host code, so batch norm's num_batches_tracked
  // counters are advanced here, once per replay.
  void count_replayed_training_forward();
  int64_t parameter_count() const;  // trainable scalars (without alignment padding)
  Sequential& net() { return *net_; }

 private:
  std::unique_ptr<Sequential> net_;
  ModelInfo info_;
  DType dtype_, master_dtype_;
  Device device_;
  bool compute_stale_ = true;
  BackwardHook backward_hook_;
  std::vector<Parameter*> parameters_;  // in forward (layer) order
  std::vector<StateTensor*> state_;
  std::vector<Counter*> counters_;
  Tensor params_, grads_, state_arena_, compute_;
  Shape input_shape_;
};

}  // namespace aslnet
