#include "engine/layers/pooling.h"

namespace aslnet {

MaxPool2d::MaxPool2d(int64_t window, int64_t stride, int64_t pad) {
  shape_.window = window;
  shape_.stride = stride;
  shape_.pad = pad;
}

Shape MaxPool2d::setup(Context& ctx, const Shape& in, DType dtype) {
  ASLNET_CHECK(in.rank() == 4) << "max pool expects NHWC input, got " << in.str();
  shape_.n = in.n();
  shape_.h = in.h();
  shape_.w = in.w();
  shape_.c = in.c();
  ASLNET_CHECK(shape_.out_h() > 0 && shape_.out_w() > 0) << "max pool: input " << in.str() << " too small";
  dtype_ = dtype;
  const Shape out{in.n(), shape_.out_h(), shape_.out_w(), in.c()};
  y_ = Tensor::empty(out, dtype, ctx.device());
  argmax_ = Tensor::empty(out, DType::I32, ctx.device());
  if (needs_input_grad_) dx_ = Tensor::empty(in, dtype, ctx.device());
  return out;
}

const Tensor& MaxPool2d::forward_cpu(Context&, const Tensor& x, bool) {
  dispatch_real(dtype_, [&](auto tag) {
    using T = decltype(tag);
    kernels::cpu::maxpool_forward<T>(shape_, x.data<T>(), y_.data<T>(), argmax_.data<int32_t>());
  });
  return y_;
}

const Tensor& MaxPool2d::forward_cuda(Context& ctx, const Tensor& x, bool) {
  dispatch_gpu(dtype_, [&](auto tag) {
    using T = decltype(tag);
    kernels::cuda::maxpool_forward<T>(ctx.stream(), shape_, x.data<T>(), y_.data<T>(), argmax_.data<int32_t>());
  });
  return y_;
}

const Tensor& MaxPool2d::backward_cpu(Context&, const Tensor& dy, bool) {
  if (!needs_input_grad_) return dx_;
  dispatch_real(dtype_, [&](auto tag) {
    using T = decltype(tag);
    kernels::cpu::maxpool_backward<T>(shape_, dy.data<T>(), argmax_.data<int32_t>(), dx_.data<T>());
  });
  return dx_;
}

const Tensor& MaxPool2d::backward_cuda(Context& ctx, const Tensor& dy, bool) {
  if (!needs_input_grad_) return dx_;
  dispatch_gpu(dtype_, [&](auto tag) {
    using T = decltype(tag);
    kernels::cuda::maxpool_backward<T>(ctx.stream(), shape_, dy.data<T>(), argmax_.data<int32_t>(), dx_.data<T>());
  });
  return dx_;
}

Shape GlobalAvgPool::setup(Context& ctx, const Shape& in, DType dtype) {
  ASLNET_CHECK(in.rank() == 4) << "global average pool expects NHWC input, got " << in.str();
  in_ = in;
  dtype_ = dtype;
  const Shape out{in.n(), in.c()};
  y_ = Tensor::empty(out, dtype, ctx.device());
  if (needs_input_grad_) dx_ = Tensor::empty(in, dtype, ctx.device());
  return out;
}

const Tensor& GlobalAvgPool::forward_cpu(Context&, const Tensor& x, bool) {
  dispatch_real(dtype_, [&](auto tag) {
    using T = decltype(tag);
    kernels::cpu::global_avgpool_forward<T>(in_.n(), in_.h() * in_.w(), in_.c(), x.data<T>(), y_.data<T>());
  });
  return y_;
}

const Tensor& GlobalAvgPool::forward_cuda(Context& ctx, const Tensor& x, bool) {
  dispatch_gpu(dtype_, [&](auto tag) {
    using T = decltype(tag);
    kernels::cuda::global_avgpool_forward<T>(ctx.stream(), in_.n(), in_.h() * in_.w(), in_.c(), x.data<T>(),
                                             y_.data<T>());
  });
  return y_;
}

const Tensor& GlobalAvgPool::backward_cpu(Context&, const Tensor& dy, bool) {
  if (!needs_input_grad_) return dx_;
  dispatch_real(dtype_, [&](auto tag) {
    using T = decltype(tag);
    kernels::cpu::global_avgpool_backward<T>(in_.n(), in_.h() * in_.w(), in_.c(), dy.data<T>(), dx_.data<T>());
  });
  return dx_;
}

const Tensor& GlobalAvgPool::backward_cuda(Context& ctx, const Tensor& dy, bool) {
  if (!needs_input_grad_) return dx_;
  dispatch_gpu(dtype_, [&](auto tag) {
    using T = decltype(tag);
    kernels::cuda::global_avgpool_backward<T>(ctx.stream(), in_.n(), in_.h() * in_.w(), in_.c(), dy.data<T>(),
                                              dx_.data<T>());
  });
  return dx_;
}

}  // namespace aslnet
