// The layer interface. A ResNet is a fixed graph, so each layer owns an explicit forward and backward
// (no autograd): forward keeps what backward needs, backward returns the input gradient and writes the
// parameter gradients. All memory a layer uses is allocated in setup(), once; forward and backward
// allocate nothing, so a step can later be captured as a CUDA graph.
//
// Two kinds of layer share the interface:
//   - Sequential only runs other layers. It launches nothing itself, so its forward and backward are
//     the same on every device and override Layer's directly (a device switch there would only call
//     one body under two names).
//   - Everything else launches kernels and derives from KernelLayer, whose forward and backward are
//     the one place where a call switches on the device: they call forward_cpu or forward_cuda,
//     backward_cpu or backward_cuda, which hold no device test of their own. Residual is one of these
//     too: besides running its two branches it launches its own join (the sum and the ReLU).
// KernelLayer's backward is also the one place the backward hook fires: after a layer that owns
// parameters has written their gradients, with exactly those parameters. Containers (Sequential,
// Residual) own none; they only hand the hook down to the layers inside them.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
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
// Called once per backward by each layer that owns parameters, right after its backward has written
// their gradients, with those parameters: their gradients are final for this backward (the replication
// module starts all-reduces from it while backward goes on). A layer without parameters (ReLU,
// pooling) and a container (Sequential, Residual) never call it, so each parameter is reported once.
using BackwardHook = std::function<void(std::span<Parameter* const> finished)>;

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

  // Every parameter of this layer and of the layers inside it, in forward order.
  virtual void collect_parameters(std::vector<Parameter*>&) {}
  virtual void collect_state(std::vector<StateTensor*>&, std::vector<Counter*>&) {}
  // Scratch this layer needs from the Context's workspace, for the shape given to setup().
  virtual size_t workspace_bytes() const { return 0; }

  // The first layer of a network needs no input gradient: skipping it saves a whole backward-data pass.
  virtual void set_needs_input_grad(bool needed) { needs_input_grad_ = needed; }
  bool needs_input_grad() const { return needs_input_grad_; }
  // The hook (owned by the caller; nullptr removes it). KernelLayer keeps it; containers pass it down
  // to the layers inside them.
  virtual void set_backward_hook(const BackwardHook* hook) = 0;

 protected:
  bool needs_input_grad_ = true;
};

// A layer that launches kernels of its own. forward and backward pick the device's implementation here,
// once per call; backward then reports the layer's own parameters to the hook.
class KernelLayer : public Layer {
 public:
  const Tensor& forward(Context& ctx, const Tensor& x, bool training) final {
    return ctx.device().is_cuda() ? forward_cuda(ctx, x, training) : forward_cpu(ctx, x, training);
  }
  const Tensor& backward(Context& ctx, const Tensor& dy, bool accumulate) final {
    const Tensor& dx = ctx.device().is_cuda() ? backward_cuda(ctx, dy, accumulate) : backward_cpu(ctx, dy, accumulate);
    if (hook_ != nullptr && *hook_ && !owned_.empty()) (*hook_)(owned_);
    return dx;
  }
  void collect_parameters(std::vector<Parameter*>& out) override {
    out.insert(out.end(), owned_.begin(), owned_.end());
  }
  void set_backward_hook(const BackwardHook* hook) override { hook_ = hook; }

 protected:
  // Constructors register the parameters the layer owns, in torchvision's order (weight, then bias):
  // collect_parameters lists them, and backward reports them to the hook.
  void own(Parameter& parameter) { owned_.push_back(&parameter); }

  // The device's implementations: `ctx` is a CPU context in the first, a CUDA one in the second.
  virtual const Tensor& forward_cpu(Context& ctx, const Tensor& x, bool training) = 0;
  virtual const Tensor& forward_cuda(Context& ctx, const Tensor& x, bool training) = 0;
  virtual const Tensor& backward_cpu(Context& ctx, const Tensor& dy, bool accumulate) = 0;
  virtual const Tensor& backward_cuda(Context& ctx, const Tensor& dy, bool accumulate) = 0;

 private:
  std::vector<Parameter*> owned_;
  const BackwardHook* hook_ = nullptr;
};

}  // namespace aslnet
