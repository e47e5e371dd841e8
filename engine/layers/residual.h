// Residual: y = relu(main(x) + shortcut(x)), the shape of torchvision's BasicBlock and Bottleneck.
// An empty shortcut is the identity; otherwise it is the 1x1 convolution and batch norm that torch
// calls `downsample`. Backward sends the gradient through the ReLU once, then into both branches, and
// sums their input gradients.
#pragma once

#include <memory>

#include "engine/layers/sequential.h"

namespace aslnet {

class Residual : public Layer {
 public:
  Residual(std::unique_ptr<Sequential> main, std::unique_ptr<Sequential> shortcut);

  std::string kind() const override { return "residual"; }
  Shape setup(Context& ctx, const Shape& in, DType dtype) override;
  const Tensor& forward(Context& ctx, const Tensor& x, bool training) override;
  const Tensor& backward(Context& ctx, const Tensor& dy, bool accumulate) override;
  void collect_parameters(std::vector<Parameter*>& out) override;
  void collect_state(std::vector<StateTensor*>& state, std::vector<Counter*>& counters) override;
  size_t workspace_bytes() const override;
  void set_backward_hook(const BackwardHook* hook) override {
    main_->set_backward_hook(hook);
    shortcut_->set_backward_hook(hook);
  }

  Sequential& main() { return *main_; }
  Sequential& shortcut() { return *shortcut_; }

 private:
  std::unique_ptr<Sequential> main_, shortcut_;
  DType dtype_ = DType::F32;
  Tensor y_, dsum_, dx_;
};

}  // namespace aslnet
