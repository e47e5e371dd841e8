#include "engine/layers/residual.h"

#include <algorithm>

#include "kernels/elementwise.h"

namespace aslnet {

Residual::Residual(std::unique_ptr<Sequential> main, std::unique_ptr<Sequential> shortcut)
    : main_(std::move(main)), shortcut_(std::move(shortcut)) {}

Shape Residual::setup(Context& ctx, const Shape& in, DType dtype) {
  // Each branch computes its own input gradient; this block adds them into dx_.
  main_->set_needs_input_grad(needs_input_grad_);
  shortcut_->set_needs_input_grad(needs_input_grad_);
  const Shape out = main_->setup(ctx, in, dtype);
  const Shape short_out = shortcut_->setup(ctx, in, dtype);
  ASLNET_CHECK(out == short_out) << "residual branches disagree: " << out.str() << " vs " << short_out.str();
  dtype_ = dtype;
  y_ = Tensor::empty(out, dtype, ctx.device());
  dsum_ = Tensor::empty(out, dtype, ctx.device());
  if (needs_input_grad_) dx_ = Tensor::empty(in, dtype, ctx.device());
  return out;
}

const Tensor& Residual::forward_cpu(Context& ctx, const Tensor& x, bool training) {
  const Tensor& a = main_->forward(ctx, x, training);
  const Tensor& b = shortcut_->forward(ctx, x, training);
  dispatch_real(dtype_, [&](auto tag) {
    using T = decltype(tag);
    kernels::cpu::add_relu<T>(a.numel(), a.data<T>(), b.data<T>(), y_.data<T>());
  });
  return y_;
}

const Tensor& Residual::forward_cuda(Context& ctx, const Tensor& x, bool training) {
  const Tensor& a = main_->forward(ctx, x, training);
  const Tensor& b = shortcut_->forward(ctx, x, training);
  dispatch_gpu(dtype_, [&](auto tag) {
    using T = decltype(tag);
    kernels::cuda::add_relu<T>(ctx.stream(), a.numel(), a.data<T>(), b.data<T>(), y_.data<T>());
  });
  return y_;
}

const Tensor& Residual::backward_cpu(Context& ctx, const Tensor& dy, bool accumulate) {
  dispatch_real(dtype_, [&](auto tag) {
    using T = decltype(tag);
    kernels::cpu::relu_backward<T>(dy.numel(), y_.data<T>(), dy.data<T>(), dsum_.data<T>());
  });
  const Tensor& da = main_->backward(ctx, dsum_, accumulate);
  const Tensor& db = shortcut_->backward(ctx, dsum_, accumulate);
  if (!needs_input_grad_) return dx_;
  dispatch_real(dtype_, [&](auto tag) {
    using T = decltype(tag);
    kernels::cpu::add<T>(dx_.numel(), da.data<T>(), db.data<T>(), dx_.data<T>());
  });
  return dx_;
}

const Tensor& Residual::backward_cuda(Context& ctx, const Tensor& dy, bool accumulate) {
  dispatch_gpu(dtype_, [&](auto tag) {
    using T = decltype(tag);
    kernels::cuda::relu_backward<T>(ctx.stream(), dy.numel(), y_.data<T>(), dy.data<T>(), dsum_.data<T>());
  });
  const Tensor& da = main_->backward(ctx, dsum_, accumulate);
  const Tensor& db = shortcut_->backward(ctx, dsum_, accumulate);
  if (!needs_input_grad_) return dx_;
  dispatch_gpu(dtype_, [&](auto tag) {
    using T = decltype(tag);
    kernels::cuda::add<T>(ctx.stream(), dx_.numel(), da.data<T>(), db.data<T>(), dx_.data<T>());
  });
  return dx_;
}

void Residual::collect_parameters(std::vector<Parameter*>& out) {
  main_->collect_parameters(out);
  shortcut_->collect_parameters(out);
}

void Residual::collect_state(std::vector<StateTensor*>& state, std::vector<Counter*>& counters) {
  main_->collect_state(state, counters);
  shortcut_->collect_state(state, counters);
}

size_t Residual::workspace_bytes() const { return std::max(main_->workspace_bytes(), shortcut_->workspace_bytes()); }

}  // namespace aslnet
