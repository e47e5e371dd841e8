// Sequential: layers run in order; backward runs them in reverse, each layer's input gradient being
// the previous layer's output gradient. It launches nothing itself, so forward and backward are the same
// on every device (engine/layer.h), and it never calls the backward hook: it hands it to its layers.
#pragma once

#include <memory>
#include <vector>

#include "engine/layer.h"

namespace aslnet {

class Sequential : public Layer {
 public:
  Sequential() = default;
  template <class L, class... Args>
  L& add(Args&&... args) {
    auto layer = std::make_unique<L>(std::forward<Args>(args)...);
    L& ref = *layer;
    layers_.push_back(std::move(layer));
    return ref;
  }
  void append(std::unique_ptr<Layer> layer) { layers_.push_back(std::move(layer)); }

  std::string kind() const override { return "sequential"; }
  Shape setup(Context& ctx, const Shape& in, DType dtype) override;
  const Tensor& forward(Context& ctx, const Tensor& x, bool training) override;
  const Tensor& backward(Context& ctx, const Tensor& dy, bool accumulate) override;
  void collect_parameters(std::vector<Parameter*>& out) override;
  void collect_state(std::vector<StateTensor*>& state, std::vector<Counter*>& counters) override;
  size_t workspace_bytes() const override;
  void set_needs_input_grad(bool needed) override;
  void set_backward_hook(const BackwardHook* hook) override;

  bool empty() const { return layers_.empty(); }
  const std::vector<std::unique_ptr<Layer>>& layers() const { return layers_; }
  // Hands the layers over and leaves this Sequential empty (a pass that regroups them appends them again).
  std::vector<std::unique_ptr<Layer>> release_layers() {
    std::vector<std::unique_ptr<Layer>> out = std::move(layers_);
    layers_.clear();
    return out;
  }

 private:
  std::vector<std::unique_ptr<Layer>> layers_;
  Tensor passthrough_;  // an empty Sequential is the identity
};

}  // namespace aslnet
