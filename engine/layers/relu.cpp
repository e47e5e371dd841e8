#include "engine/layers/relu.h"

#include "kernels/elementwise.h"

namespace aslnet {

Shape ReLU::setup(Context& ctx, const Shape& in, DType dtype) {
  dtype_ = dtype;
  y_ = Tensor::empty(in, dtype, ctx.device());
  if (needs_input_grad_) dx_ = Tensor::empty(in, dtype, ctx.device());
  return in;
}

const Tensor& ReLU::forward_cpu(Context&, const Tensor& x, bool) {
  dispatch_real(dtype_, [&](auto tag) {
    using T = decltype(tag);
    kernels::cpu::relu_forward<T>(x.numel(), x.data<T>(), y_.data<T>());
  });
  return y_;
}

const Tensor& ReLU::forward_cuda(Context& ctx, const Tensor& x, bool) {
  dispatch_gpu(dtype_, [&](auto tag) {
    using T = decltype(tag);
    kernels::cuda::relu_forward<T>(ctx.stream(), x.numel(), x.data<T>(), y_.data<T>());
  });
  return y_;
}

const Tensor& ReLU::backward_cpu(Context&, const Tensor& dy, bool) {
  if (!needs_input_grad_) return dx_;
  dispatch_real(dtype_, [&](auto tag) {
    using T = decltype(tag);
    kernels::cpu::relu_backward<T>(dy.numel(), y_.data<T>(), dy.data<T>(), dx_.data<T>());
  });
  return dx_;
}

const Tensor& ReLU::backward_cuda(Context& ctx, const Tensor& dy, bool) {
  if (!needs_input_grad_) return dx_;
  dispatch_gpu(dtype_, [&](auto tag) {
    using T = decltype(tag);
    kernels::cuda::relu_backward<T>(ctx.stream(), dy.numel(), y_.data<T>(), dy.data<T>(), dx_.data<T>());
  });
  return dx_;
}

}  // namespace aslnet
