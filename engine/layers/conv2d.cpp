#include "engine/layers/conv2d.h"

namespace aslnet {

Conv2d::Conv2d(std::string name, int64_t in_channels, int64_t out_channels, int64_t kernel, int64_t stride,
               int64_t pad) {
  weight_ = {name + ".weight", Shape{out_channels, kernel, kernel, in_channels}, ParamRole::ConvWeight, {}, {}};
  shape_.c = in_channels;
  shape_.k = out_channels;
  shape_.r = shape_.s = kernel;
  shape_.stride = stride;
  shape_.pad = pad;
}

Shape Conv2d::setup(Context& ctx, const Shape& in, DType dtype) {
  ASLNET_CHECK(in.rank() == 4 && in.c() == shape_.c)
      << weight_.name << ": expected NHWC input with " << shape_.c << " channels, got " << in.str();
  shape_.n = in.n();
  shape_.h = in.h();
  shape_.w = in.w();
  ASLNET_CHECK(shape_.out_h() > 0 && shape_.out_w() > 0)
      << weight_.name << ": input " << in.str() << " is smaller than the " << shape_.r << "x" << shape_.s << " kernel";
  dtype_ = dtype;
  const Shape out{shape_.n, shape_.out_h(), shape_.out_w(), shape_.k};
  y_ = Tensor::empty(out, dtype, ctx.device());
  if (needs_input_grad_) dx_ = Tensor::empty(in, dtype, ctx.device());
  return out;
}

size_t Conv2d::workspace_bytes() const {
  return size_t(kernels::cpu::conv2d_workspace_elems(shape_)) * dtype_size(dtype_);
}

const Tensor& Conv2d::forward(Context& ctx, const Tensor& x, bool) {
  input_ = x;
  dispatch_real(dtype_, [&](auto tag) {
    using T = decltype(tag);
    kernels::cpu::conv2d_forward<T>(shape_, x.data<T>(), weight_.value.data<T>(), y_.data<T>(),
                                    static_cast<T*>(ctx.workspace()));
  });
  return y_;
}

const Tensor& Conv2d::backward(Context& ctx, const Tensor& dy, bool accumulate) {
  dispatch_real(dtype_, [&](auto tag) {
    using T = decltype(tag);
    T* columns = static_cast<T*>(ctx.workspace());
    kernels::cpu::conv2d_backward_filter<T>(shape_, input_.data<T>(), dy.data<T>(), weight_.grad.data<T>(), columns,
                                            accumulate);
    if (needs_input_grad_)
      kernels::cpu::conv2d_backward_data<T>(shape_, dy.data<T>(), weight_.value.data<T>(), dx_.data<T>(), columns);
  });
  return dx_;
}

}  // namespace aslnet
