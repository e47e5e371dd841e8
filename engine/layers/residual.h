// Residual: y = relu(main(x) + shortcut(x)), the shape of torchvision's BasicBlock and Bottleneck.
// An empty shortcut is the identity; otherwise it is the 1x1 convolution and batch norm that torch
// calls `downsample`. Backward sends the gradient through the ReLU once, then into both branches, and
// sums their input gradients. The join (the sum and the ReLU) is this layer's own kernel work, so it is
// a KernelLayer: forward_cpu and forward_cuda each run the branches, then their device's join. It owns
// no parameters, so it never calls the backward hook; it hands the hook to its branches, whose layers
// report their own.
#pragma once

#include <memory>

#include "engine/layers/sequential.h"

namespace aslnet {

class Residual : public KernelLayer {
 public:
  Residual(std::unique_ptr<Sequential> main, std::unique_ptr<Sequential> shortcut);

  std::string kind() const override { return "residual"; }
  Shape setup(Context& ctx, const Shape& in, DType dtype) override;
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
  const Tensor& forward_cpu(Context& ctx, const Tensor& x, bool training) override;
  const Tensor& forward_cuda(Context& ctx, const Tensor& x, bool training) override;
  const Tensor& backward_cpu(Context& ctx, const Tensor& dy, bool accumulate) override;
  const Tensor& backward_cuda(Context& ctx, const Tensor& dy, bool accumulate) override;

  std::unique_ptr<Sequential> main_, shortcut_;
  DType dtype_ = DType::F32;
  Tensor y_, dsum_, dx_;
};

}  // namespace aslnet
