// The layer interface. A ResNet is a fixed graph, so each layer owns an explicit forward and backward
// (no autograd): forward keeps what backward needs, backward returns the input gradient and writes the
// parameter gradients. All memory a layer uses is allocated in setup(), once; forward and backward
// allocate nothing, so a step can later be captured as a CUDA graph.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "engine/core/context.h"
#include "engine/core/tensor.h"

namespace aslnet {

// What a parameter is for: decides its initialisation, whether weight decay applies to it, and how
// the checkpoint converts its layout (convolution weights are KRSC here, OIHW in torch).
enum class ParamRole { ConvWeight, LinearWeight, LinearBias, NormWeight, NormBias };

struct Parameter {
  std::string name;  // torchvision's name: "layer1.0.conv1.weight"
  Shape shape;       // in the engine's layout
  ParamRole role;
  Tensor value;  // views into the model's flat parameter and gradient arenas (fp32 masters in mixed precision)
  Tensor grad;
  // The weights the layer computes with: `value` itself, or in bf16 mixed precision its bf16 copy (a
  // view into the model's compute arena, refreshed by the optimizer). Batch norm always uses `value`.
  Tensor compute;
  bool is_norm_or_bias() const { return role != ParamRole::ConvWeight && role != ParamRole::LinearWeight; }
};

// Non-trained state that a checkpoint carries: batch norm's running statistics (views into the
// model's state arena) and its num_batches_tracked counter (an int64, as torch stores it).
struct StateTensor {
  std::string name;  // "bn1.running_mean"
  Shape shape;
  Tensor value;
};
class Layer;
// Called after a layer's backward has written its parameter gradients (the replication module starts
// all-reduces from it while backward goes on). Containers call it for each child, leaves included.
using BackwardHook = std::function<void(Layer&)>;

struct Counter {
  std::string name;  // "bn1.num_batches_tracked"
  int64_t value = 0;
};

class Layer {
 public:
  virtual ~Layer() = default;
  Layer() = default;
  Layer(const Layer&) = delete;
  Layer& operator=(const Layer&) = delete;

  virtual std::string kind() const = 0;
  // Allocates outputs and gradients for inputs of shape `in` and returns the output shape.
  virtual Shape setup(Context& ctx, const Shape& in, DType dtype) = 0;
  virtual const Tensor& forward(Context& ctx, const Tensor& x, bool training) = 0;
  // Returns dx (an undefined tensor when input gradients are switched off). Parameter gradients are
  // overwritten, or added to with `accumulate` (gradient accumulation over micro-batches).
  virtual const Tensor& backward(Context& ctx, const Tensor& dy, bool accumulate) = 0;

  virtual void collect_parameters(std::vector<Parameter*>&) {}
  virtual void collect_state(std::vector<StateTensor*>&, std::vector<Counter*>&) {}
  // Scratch this layer needs from the Context's workspace, for the shape given to setup().
  virtual size_t workspace_bytes() const { return 0; }

  // The first layer of a network needs no input gradient: skipping it saves a whole backward-data pass.
  virtual void set_needs_input_grad(bool needed) { needs_input_grad_ = needed; }
  bool needs_input_grad() const { return needs_input_grad_; }
  // Containers pass the hook down to their children (nullptr removes it); leaves need not know.
  virtual void set_backward_hook(const BackwardHook* hook) {}

 protected:
  bool needs_input_grad_ = true;
};

}  // namespace aslnet
