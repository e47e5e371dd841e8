#include "engine/layers/linear.h"

#include "kernels/linear.h"
#include "kernels/precision.h"

namespace aslnet {

Linear::Linear(std::string name, int64_t in_features, int64_t out_features) : in_(in_features), out_(out_features) {
  weight_ = {name + ".weight", Shape{out_features, in_features}, ParamRole::LinearWeight, {}, {}, {}};
  bias_ = {name + ".bias", Shape{out_features}, ParamRole::LinearBias, {}, {}, {}};
  own(weight_);
  own(bias_);
}

Shape Linear::setup(Context& ctx, const Shape& in, DType dtype) {
  ASLNET_CHECK(in.rank() == 2 && in[1] == in_)
      << weight_.name << ": expected input [batch, " << in_ << "], got " << in.str();
  batch_ = in[0];
  dtype_ = dtype;
  y_ = Tensor::empty(Shape{batch_, out_}, dtype, ctx.device());
  if (needs_input_grad_) dx_ = Tensor::empty(in, dtype, ctx.device());
  return y_.shape();
}

size_t Linear::workspace_bytes() const {
  // Mixed precision: the bf16 weight and bias gradients, before they are widened into the fp32 arena.
  return dtype_ == DType::BF16 ? size_t(out_ * in_ + out_) * dtype_size(DType::BF16) : 0;
}

const Tensor& Linear::forward_cpu(Context&, const Tensor& x, bool) {
  input_ = x;
  dispatch_real(dtype_, [&](auto tag) {
    using T = decltype(tag);
    kernels::cpu::linear_forward<T>(batch_, in_, out_, x.data<T>(), weight_.value.data<T>(), bias_.value.data<T>(),
                                    y_.data<T>());
  });
  return y_;
}

const Tensor& Linear::forward_cuda(Context& ctx, const Tensor& x, bool) {
  input_ = x;
  dispatch_gpu(dtype_, [&](auto tag) {
    using T = decltype(tag);
    kernels::cuda::linear_forward<T>(ctx.cublas(), batch_, in_, out_, x.data<T>(), weight_.compute.data<T>(),
                                     bias_.compute.data<T>(), y_.data<T>());
  });
  return y_;
}

const Tensor& Linear::backward_cpu(Context&, const Tensor& dy, bool accumulate) {
  dispatch_real(dtype_, [&](auto tag) {
    using T = decltype(tag);
    kernels::cpu::linear_backward<T>(batch_, in_, out_, input_.data<T>(), weight_.value.data<T>(), dy.data<T>(),
                                     needs_input_grad_ ? dx_.data<T>() : nullptr, weight_.grad.data<T>(),
                                     bias_.grad.data<T>(), accumulate);
  });
  return dx_;
}

const Tensor& Linear::backward_cuda(Context& ctx, const Tensor& dy, bool accumulate) {
  if (dtype_ == DType::BF16) {
    bf16* dw16 = static_cast<bf16*>(ctx.workspace());
    bf16* db16 = dw16 + out_ * in_;
    kernels::cuda::linear_backward<bf16>(ctx.cublas(), batch_, in_, out_, input_.data<bf16>(),
                                         weight_.compute.data<bf16>(), dy.data<bf16>(),
                                         needs_input_grad_ ? dx_.data<bf16>() : nullptr, dw16, db16, false);
    kernels::cuda::widen_into(ctx.stream(), out_ * in_, dw16, weight_.grad.data<float>(), accumulate);
    kernels::cuda::widen_into(ctx.stream(), out_, db16, bias_.grad.data<float>(), accumulate);
  } else {
    kernels::cuda::linear_backward<float>(ctx.cublas(), batch_, in_, out_, input_.data<float>(),
                                          weight_.value.data<float>(), dy.data<float>(),
                                          needs_input_grad_ ? dx_.data<float>() : nullptr, weight_.grad.data<float>(),
                                          bias_.grad.data<float>(), accumulate);
  }
  return dx_;
}

}  // namespace aslnet
