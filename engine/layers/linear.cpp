#include "engine/layers/linear.h"

#include "kernels/linear.h"

namespace aslnet {

Linear::Linear(std::string name, int64_t in_features, int64_t out_features) : in_(in_features), out_(out_features) {
  weight_ = {name + ".weight", Shape{out_features, in_features}, ParamRole::LinearWeight, {}, {}};
  bias_ = {name + ".bias", Shape{out_features}, ParamRole::LinearBias, {}, {}};
}

void Linear::collect_parameters(std::vector<Parameter*>& out) {
  out.push_back(&weight_);
  out.push_back(&bias_);
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

const Tensor& Linear::forward(Context&, const Tensor& x, bool) {
  input_ = x;
  dispatch_real(dtype_, [&](auto tag) {
    using T = decltype(tag);
    kernels::cpu::linear_forward<T>(batch_, in_, out_, x.data<T>(), weight_.value.data<T>(), bias_.value.data<T>(),
                                    y_.data<T>());
  });
  return y_;
}

const Tensor& Linear::backward(Context&, const Tensor& dy, bool accumulate) {
  dispatch_real(dtype_, [&](auto tag) {
    using T = decltype(tag);
    kernels::cpu::linear_backward<T>(batch_, in_, out_, input_.data<T>(), weight_.value.data<T>(), dy.data<T>(),
                                     needs_input_grad_ ? dx_.data<T>() : nullptr, weight_.grad.data<T>(),
                                     bias_.grad.data<T>(), accumulate);
  });
  return dx_;
}

}  // namespace aslnet
