#include "engine/layers/conv2d.h"

#include "kernels/cpu_kernels.h"
#include "kernels/precision.h"

namespace aslnet {

namespace {
size_t align256(size_t bytes) { return (bytes + 255) / 256 * 256; }
}  // namespace

Conv2d::Conv2d(std::string name, int64_t in_channels, int64_t out_channels, int64_t kernel, int64_t stride,
               int64_t pad) {
  weight_ = {name + ".weight", Shape{out_channels, kernel, kernel, in_channels}, ParamRole::ConvWeight, {}, {}, {}};
  own(weight_);
  shape_.c = in_channels;
  shape_.k = out_channels;
  shape_.r = shape_.s = kernel;
  shape_.stride = stride;
  shape_.pad = pad;
}

kernels::ConvShape Conv2d::shape_for(const Shape& in) const {
  ASLNET_CHECK(in.rank() == 4 && in.c() == shape_.c)
      << weight_.name << ": expected NHWC input with " << shape_.c << " channels, got " << in.str();
  kernels::ConvShape shape = shape_;
  shape.n = in.n();
  shape.h = in.h();
  shape.w = in.w();
  ASLNET_CHECK(shape.out_h() > 0 && shape.out_w() > 0)
      << weight_.name << ": input " << in.str() << " is smaller than the " << shape.r << "x" << shape.s << " kernel";
  return shape;
}

Shape Conv2d::setup(Context& ctx, const Shape& in, DType dtype) {
  shape_ = shape_for(in);
  dtype_ = dtype;
  if (ctx.device().is_cuda()) {
    kernels::cuda::ConvOptions options;
    options.dtype = dtype;
    options.allow_tf32 = ctx.allow_tf32();
    options.deterministic = ctx.deterministic();
    // Timing-based search can pick other algorithms in another run (and another algorithm rounds
    // differently): a deterministic run takes cuDNN's heuristic choice, the same every time.
    options.benchmark = !ctx.deterministic();
    cudnn_ = std::make_unique<kernels::cuda::CudnnConv>(ctx.cudnn(), shape_, options);
    // cuDNN's scratch, then (mixed precision) the bf16 filter gradient before it is widened into the
    // fp32 arena.
    const size_t bf16_grad = dtype_ == DType::BF16 ? size_t(weight_.shape.numel()) * dtype_size(DType::BF16) : 0;
    workspace_bytes_ = align256(cudnn_->workspace_bytes()) + bf16_grad;
  } else {
    // The fast CPU kernels are oneDNN's fp32 primitives, where they beat the reference (pays_off says
    // which shapes); f64 (the gradient checks' dtype) has none and stays on the reference, as does
    // everything when --cpu-kernels reference is asked for.
    onednn_.reset();
    if (dtype_ == DType::F32 && kernels::cpu_kernels() == kernels::CpuKernels::Fast &&
        kernels::onednn::pays_off(shape_)) {
      onednn_ = std::make_unique<kernels::onednn::OnednnConv>(shape_);
      workspace_bytes_ = onednn_->workspace_bytes();
    } else {
      workspace_bytes_ = size_t(kernels::cpu::conv2d_workspace_elems(shape_)) * dtype_size(dtype_);
    }
  }
  const Shape out{shape_.n, shape_.out_h(), shape_.out_w(), shape_.k};
  y_ = Tensor::empty(out, dtype, ctx.device());
  if (needs_input_grad_) dx_ = Tensor::empty(in, dtype, ctx.device());
  return out;
}

const Tensor& Conv2d::forward_cpu(Context& ctx, const Tensor& x, bool) {
  input_ = x;
  if (onednn_) {
    onednn_->forward(x.data<float>(), weight_.value.data<float>(), y_.data<float>(), ctx.workspace());
    return y_;
  }
  dispatch_real(dtype_, [&](auto tag) {
    using T = decltype(tag);
    kernels::cpu::conv2d_forward<T>(shape_, x.data<T>(), weight_.value.data<T>(), y_.data<T>(),
                                    static_cast<T*>(ctx.workspace()));
  });
  return y_;
}

const Tensor& Conv2d::forward_cuda(Context& ctx, const Tensor& x, bool) {
  input_ = x;
  cudnn_->forward(ctx.cudnn(), x.raw(), weight_.compute.raw(), y_.raw(), ctx.workspace(), cudnn_->workspace_bytes());
  return y_;
}

const Tensor& Conv2d::backward_cpu(Context& ctx, const Tensor& dy, bool accumulate) {
  if (onednn_) {
    onednn_->backward_filter(input_.data<float>(), dy.data<float>(), weight_.grad.data<float>(), ctx.workspace(),
                             accumulate);
    if (needs_input_grad_)
      onednn_->backward_data(dy.data<float>(), weight_.value.data<float>(), dx_.data<float>(), ctx.workspace());
    return dx_;
  }
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

const Tensor& Conv2d::backward_cuda(Context& ctx, const Tensor& dy, bool accumulate) {
  const size_t scratch = cudnn_->workspace_bytes();
  if (dtype_ == DType::BF16) {
    bf16* grad16 = reinterpret_cast<bf16*>(static_cast<char*>(ctx.workspace()) + align256(scratch));
    cudnn_->backward_filter(ctx.cudnn(), input_.raw(), dy.raw(), grad16, ctx.workspace(), scratch, false);
    kernels::cuda::widen_into(ctx.stream(), weight_.shape.numel(), grad16, weight_.grad.data<float>(), accumulate);
  } else {
    cudnn_->backward_filter(ctx.cudnn(), input_.raw(), dy.raw(), weight_.grad.raw(), ctx.workspace(), scratch,
                            accumulate);
  }
  if (needs_input_grad_)
    cudnn_->backward_data(ctx.cudnn(), dy.raw(), weight_.compute.raw(), dx_.raw(), ctx.workspace(), scratch);
  return dx_;
}

}  // namespace aslnet
