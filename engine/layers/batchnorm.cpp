#include "engine/layers/batchnorm.h"

#include <algorithm>
#include <span>

#include "kernels/norm_sync.h"

namespace aslnet {

BatchNormValues BatchNorm2d::fold_values() const {
  const auto f32 = [](const Tensor& t) { return std::span<const float>(t.data<float>(), size_t(t.numel())); };
  return {f32(weight_.value), f32(bias_.value), f32(running_mean_.value), f32(running_var_.value), eps_};
}

BatchNorm2d::BatchNorm2d(std::string name, int64_t channels, double momentum, double eps)
    : momentum_(momentum), eps_(eps) {
  weight_ = {name + ".weight", Shape{channels}, ParamRole::NormWeight, {}, {}, {}};
  bias_ = {name + ".bias", Shape{channels}, ParamRole::NormBias, {}, {}, {}};
  running_mean_ = {name + ".running_mean", Shape{channels}, {}};
  running_var_ = {name + ".running_var", Shape{channels}, {}};
  batches_tracked_ = {name + ".num_batches_tracked", 0};
  shape_.c = channels;
  own(weight_);
  own(bias_);
}

void BatchNorm2d::collect_state(std::vector<StateTensor*>& state, std::vector<Counter*>& counters) {
  state.push_back(&running_mean_);
  state.push_back(&running_var_);
  counters.push_back(&batches_tracked_);
}

Shape BatchNorm2d::setup(Context& ctx, const Shape& in, DType dtype) {
  ASLNET_CHECK(in.rank() == 4 && in.c() == shape_.c)
      << weight_.name << ": expected NHWC input with " << shape_.c << " channels, got " << in.str();
  shape_.rows = in.n() * in.h() * in.w();
  dtype_ = dtype;
  const bool gpu = ctx.device().is_cuda();
  // On the GPU the statistics are fp32 whatever the activations' type (mixed precision keeps them so).
  const DType stats = gpu ? DType::F32 : dtype;
  // Enough for the synchronised kernels too: the sync may be set after setup (the replica run sets it
  // once the model is built), and a larger workspace changes nothing for the plain kernels.
  workspace_bytes_ = gpu ? size_t(std::max(kernels::cuda::batchnorm_scratch_floats(shape_),
                                           kernels::cuda::batchnorm_sync_scratch_floats(shape_))) *
                               sizeof(float)
                         : 0;
  save_mean_ = Tensor::empty(Shape{shape_.c}, stats, ctx.device());
  save_invstd_ = Tensor::empty(Shape{shape_.c}, stats, ctx.device());
  y_ = Tensor::empty(in, dtype, ctx.device());
  if (needs_input_grad_) dx_ = Tensor::empty(in, dtype, ctx.device());
  // The synchronised path's all-reduced buffers (a few values per channel, so always made): double on
  // the CPU (the communicators take f64 there), float on a GPU.
  const DType sums = gpu ? DType::F32 : DType::F64;
  sync_stats_ = Tensor::empty(Shape{2 * shape_.c + 1}, sums, ctx.device());
  sync_grad_sums_ = Tensor::empty(Shape{2 * shape_.c}, sums, ctx.device());
  return in;
}

const Tensor& BatchNorm2d::forward_cpu(Context& ctx, const Tensor& x, bool training) {
  input_ = x;
  batch_statistics_ = training;
  synced_ = training && sync_ != nullptr;
  if (synced_) {
    forward_synced_cpu(ctx, x);
    ++batches_tracked_.value;
    return y_;
  }
  dispatch_real(dtype_, [&](auto tag) {
    using T = decltype(tag);
    if (training) {
      kernels::cpu::batchnorm_forward_train<T>(
          shape_, x.data<T>(), weight_.value.data<T>(), bias_.value.data<T>(), y_.data<T>(), save_mean_.data<T>(),
          save_invstd_.data<T>(), running_mean_.value.data<T>(), running_var_.value.data<T>(), momentum_, eps_);
    } else {
      kernels::cpu::batchnorm_forward_eval<T>(shape_, x.data<T>(), weight_.value.data<T>(), bias_.value.data<T>(),
                                              running_mean_.value.data<T>(), running_var_.value.data<T>(), eps_,
                                              y_.data<T>());
    }
  });
  if (training) ++batches_tracked_.value;
  return y_;
}

const Tensor& BatchNorm2d::forward_cuda(Context& ctx, const Tensor& x, bool training) {
  input_ = x;
  batch_statistics_ = training;
  synced_ = training && sync_ != nullptr;
  if (synced_) {
    forward_synced_cuda(ctx, x);
    ++batches_tracked_.value;
    return y_;
  }
  dispatch_gpu(dtype_, [&](auto tag) {
    using T = decltype(tag);
    if (training)
      kernels::cuda::batchnorm_forward_train<T>(
          ctx.stream(), shape_, x.data<T>(), weight_.value.data<float>(), bias_.value.data<float>(), y_.data<T>(),
          save_mean_.data<float>(), save_invstd_.data<float>(), running_mean_.value.data<float>(),
          running_var_.value.data<float>(), momentum_, eps_, static_cast<float*>(ctx.workspace()));
    else
      kernels::cuda::batchnorm_forward_eval<T>(ctx.stream(), shape_, x.data<T>(), weight_.value.data<float>(),
                                               bias_.value.data<float>(), running_mean_.value.data<float>(),
                                               running_var_.value.data<float>(), eps_, y_.data<T>());
  });
  if (training) ++batches_tracked_.value;
  return y_;
}

// On both devices: after an evaluation forward the saved statistics are stale (the evaluation forward
// does not write them, to stay a single pass when nothing is trained), so backward first fills them
// from the running statistics it normalised with. The running statistics cannot have changed since, as
// only a training forward updates them.
const Tensor& BatchNorm2d::backward_cpu(Context& ctx, const Tensor& dy, bool accumulate) {
  ASLNET_CHECK(needs_input_grad_) << weight_.name << ": batch norm cannot be the first layer";
  if (synced_) {
    backward_synced_cpu(ctx, dy, accumulate);
    return dx_;
  }
  dispatch_real(dtype_, [&](auto tag) {
    using T = decltype(tag);
    if (!batch_statistics_)
      kernels::cpu::batchnorm_frozen_statistics<T>(shape_.c, running_mean_.value.data<T>(),
                                                   running_var_.value.data<T>(), eps_, save_mean_.data<T>(),
                                                   save_invstd_.data<T>());
    kernels::cpu::batchnorm_backward<T>(shape_, input_.data<T>(), dy.data<T>(), weight_.value.data<T>(),
                                        save_mean_.data<T>(), save_invstd_.data<T>(), dx_.data<T>(),
                                        weight_.grad.data<T>(), bias_.grad.data<T>(), accumulate, batch_statistics_);
  });
  return dx_;
}

const Tensor& BatchNorm2d::backward_cuda(Context& ctx, const Tensor& dy, bool accumulate) {
  ASLNET_CHECK(needs_input_grad_) << weight_.name << ": batch norm cannot be the first layer";
  if (synced_) {
    backward_synced_cuda(ctx, dy, accumulate);
    return dx_;
  }
  if (!batch_statistics_)
    kernels::cuda::batchnorm_frozen_statistics(ctx.stream(), shape_.c, running_mean_.value.data<float>(),
                                               running_var_.value.data<float>(), eps_, save_mean_.data<float>(),
                                               save_invstd_.data<float>());
  dispatch_gpu(dtype_, [&](auto tag) {
    using T = decltype(tag);
    kernels::cuda::batchnorm_backward<T>(
        ctx.stream(), shape_, input_.data<T>(), dy.data<T>(), weight_.value.data<float>(), save_mean_.data<float>(),
        save_invstd_.data<float>(), dx_.data<T>(), weight_.grad.data<float>(), bias_.grad.data<float>(), accumulate,
        batch_statistics_, static_cast<float*>(ctx.workspace()));
  });
  return dx_;
}

}  // namespace aslnet
