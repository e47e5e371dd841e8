#include "engine/model.h"

#include <algorithm>

#include "engine/core/cuda_check.h"
#include "kernels/elementwise.h"

namespace aslnet {

namespace {
// Each parameter starts on a 64-byte boundary so vectorised and GPU kernels see aligned slices.
int64_t align_elems(int64_t count, DType dtype) {
  const int64_t per_line = std::max<int64_t>(1, 64 / int64_t(dtype_size(dtype)));
  return (count + per_line - 1) / per_line * per_line;
}
}  // namespace

Model::Model(std::unique_ptr<Sequential> net, ModelInfo info, DType dtype, Device device)
    : net_(std::move(net)),
      info_(std::move(info)),
      dtype_(dtype),
      master_dtype_(dtype == DType::BF16 ? DType::F32 : dtype),
      device_(device) {
  if (device_.is_cpu())
    ASLNET_CHECK(dtype_ == DType::F32 || dtype_ == DType::F64)
        << "the CPU trains in f32 or f64, not " << dtype_name(dtype_) << " (bf16 mixed precision needs --device cuda)";
  else
    ASLNET_CHECK(dtype_ == DType::F32 || dtype_ == DType::BF16)
        << "the GPU trains in f32 or bf16, not " << dtype_name(dtype_);
  net_->collect_parameters(parameters_);
  net_->collect_state(state_, counters_);
  // The input image needs no gradient.
  net_->set_needs_input_grad(false);

  // Reverse layer order: the classifier's parameters come first in the arena.
  int64_t total = 0;
  std::vector<int64_t> offsets(parameters_.size());
  for (size_t i = parameters_.size(); i-- > 0;) {
    offsets[i] = total;
    total += align_elems(parameters_[i]->shape.numel(), master_dtype_);
  }
  params_ = Tensor::zeros(Shape{total}, master_dtype_, device_);
  grads_ = Tensor::zeros(Shape{total}, master_dtype_, device_);
  if (mixed_precision()) compute_ = Tensor::zeros(Shape{total}, dtype_, device_);
  for (size_t i = 0; i < parameters_.size(); ++i) {
    parameters_[i]->value = params_.slice(offsets[i], parameters_[i]->shape);
    parameters_[i]->grad = grads_.slice(offsets[i], parameters_[i]->shape);
    parameters_[i]->compute =
        mixed_precision() ? compute_.slice(offsets[i], parameters_[i]->shape) : parameters_[i]->value;
  }

  int64_t state_total = 0;
  for (auto* s : state_) state_total += align_elems(s->shape.numel(), master_dtype_);
  state_arena_ = Tensor::zeros(Shape{state_total}, master_dtype_, device_);
  int64_t at = 0;
  for (auto* s : state_) {
    s->value = state_arena_.slice(at, s->shape);
    at += align_elems(s->shape.numel(), master_dtype_);
  }
}

void Model::setup(Context& ctx, int64_t batch, int64_t height, int64_t width) {
  ASLNET_CHECK(ctx.device() == device_) << "model lives on " << device_.str() << ", context on " << ctx.device().str();
  ASLNET_CHECK(batch > 0 && height > 0 && width > 0)
      << "bad input size " << batch << "x" << height << "x" << width;
  input_shape_ = Shape{batch, height, width, info_.in_channels};
  const Shape out = net_->setup(ctx, input_shape_, dtype_);
  // Setup may have run cuDNN's algorithm search on the stream: let it finish before the first step.
  ctx.synchronize();
  ASLNET_CHECK(out.rank() == 2 && out[1] == info_.num_classes) << "network ends in " << out.str();
  ctx.reserve_workspace(net_->workspace_bytes());
}

const Tensor& Model::forward(Context& ctx, const Tensor& x, bool training) {
  ASLNET_CHECK(is_setup()) << "Model::setup must run before forward";
  ASLNET_CHECK(x.shape() == input_shape_ && x.dtype() == dtype_)
      << "model was set up for " << dtype_name(dtype_) << input_shape_.str() << ", got " << dtype_name(x.dtype())
      << x.shape().str();
  if (compute_stale_ && mixed_precision()) {
    kernels::cuda::cast<float, bf16>(ctx.stream(), params_.numel(), params_.data<float>(), compute_.data<bf16>());
  }
  compute_stale_ = false;
  return net_->forward(ctx, x, training);
}

void Model::copy_weights_from(const Model& other) {
  ASLNET_CHECK(other.info_.arch == info_.arch && other.params_.numel() == params_.numel() &&
               other.state_arena_.numel() == state_arena_.numel() && other.master_dtype_ == master_dtype_)
      << "cannot copy the weights of a " << other.info_.arch << " (" << dtype_name(other.master_dtype_)
      << ") into a " << info_.arch << " (" << dtype_name(master_dtype_) << ")";
  params_.copy_from(other.params_);
  state_arena_.copy_from(other.state_arena_);
  for (size_t i = 0; i < counters_.size(); ++i) counters_[i]->value = other.counters_[i]->value;
  parameters_changed();
}

void Model::backward(Context& ctx, const Tensor& dlogits, bool accumulate) { net_->backward(ctx, dlogits, accumulate); }

void Model::set_backward_hook(BackwardHook hook) {
  backward_hook_ = std::move(hook);
  net_->set_backward_hook(backward_hook_ ? &backward_hook_ : nullptr);
}

void Model::count_replayed_training_forward() {
  for (Counter* c : counters_) ++c->value;
}

Parameter* Model::find_parameter(const std::string& name) const {
  for (auto* p : parameters_)
    if (p->name == name) return p;
  return nullptr;
}

int64_t Model::parameter_count() const {
  int64_t n = 0;
  for (auto* p : parameters_) n += p->shape.numel();
  return n;
}

}  // namespace aslnet
