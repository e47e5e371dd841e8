#include "engine/layers/sequential.h"

#include <algorithm>

namespace aslnet {

Shape Sequential::setup(Context& ctx, const Shape& in, DType dtype) {
  Shape shape = in;
  for (auto& layer : layers_) shape = layer->setup(ctx, shape, dtype);
  return shape;
}

const Tensor& Sequential::forward(Context& ctx, const Tensor& x, bool training) {
  const Tensor* current = &x;
  for (auto& layer : layers_) current = &layer->forward(ctx, *current, training);
  if (layers_.empty()) passthrough_ = x;
  return layers_.empty() ? passthrough_ : *current;
}

const Tensor& Sequential::backward(Context& ctx, const Tensor& dy, bool accumulate) {
  const Tensor* grad = &dy;
  for (auto it = layers_.rbegin(); it != layers_.rend(); ++it) grad = &(*it)->backward(ctx, *grad, accumulate);
  if (layers_.empty()) passthrough_ = dy;
  return layers_.empty() ? passthrough_ : *grad;
}

void Sequential::collect_parameters(std::vector<Parameter*>& out) {
  for (auto& layer : layers_) layer->collect_parameters(out);
}

void Sequential::collect_state(std::vector<StateTensor*>& state, std::vector<Counter*>& counters) {
  for (auto& layer : layers_) layer->collect_state(state, counters);
}

size_t Sequential::workspace_bytes() const {
  size_t most = 0;
  for (const auto& layer : layers_) most = std::max(most, layer->workspace_bytes());
  return most;
}

void Sequential::set_backward_hook(const BackwardHook* hook) {
  for (auto& layer : layers_) layer->set_backward_hook(hook);
}

void Sequential::set_needs_input_grad(bool needed) {
  Layer::set_needs_input_grad(needed);
  if (!layers_.empty()) layers_.front()->set_needs_input_grad(needed);
}

}  // namespace aslnet
