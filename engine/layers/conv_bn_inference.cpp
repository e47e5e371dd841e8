#include "engine/layers/conv_bn_inference.h"

#include <algorithm>
#include <span>

#include "engine/fold.h"
#include "engine/layers/batchnorm.h"
#include "engine/layers/conv2d.h"
#include "engine/layers/relu.h"
#include "engine/layers/residual.h"
#include "kernels/cpu_kernels.h"
#include "kernels/elementwise.h"

namespace aslnet {

ConvBnInference::ConvBnInference(std::unique_ptr<Conv2d> conv, std::unique_ptr<BatchNorm2d> bn,
                                 std::unique_ptr<Layer> relu)
    : conv_(std::move(conv)), bn_(std::move(bn)), relu_(std::move(relu)) {}

ConvBnInference::~ConvBnInference() = default;

Shape ConvBnInference::setup(Context& ctx, const Shape& in, DType dtype) {
  folded_ = !ctx.device().is_cuda() && dtype == DType::F32 && kernels::cpu_kernels() == kernels::CpuKernels::Fast;
  onednn_.reset();
  if (!folded_) {
    // The wrapped layers, one after another, exactly as without this wrapper.
    conv_->set_needs_input_grad(needs_input_grad_);
    Shape shape = bn_->setup(ctx, conv_->setup(ctx, in, dtype), dtype);
    if (relu_) shape = relu_->setup(ctx, shape, dtype);
    workspace_bytes_ =
        std::max({conv_->workspace_bytes(), bn_->workspace_bytes(), relu_ ? relu_->workspace_bytes() : size_t(0)});
    return shape;
  }
  // The wrapped layers are not set up: their buffers and primitives would never be used.
  shape_ = conv_->shape_for(in);
  const Shape out{shape_.n, shape_.out_h(), shape_.out_w(), shape_.k};
  std::vector<Parameter*> conv_params;
  conv_->collect_parameters(conv_params);
  const Tensor& conv_weight = conv_params[0]->value;
  const FoldedConv fold = fold_batch_norm({conv_weight.data<float>(), size_t(conv_weight.numel())}, bn_->fold_values());
  if (kernels::onednn::pays_off(shape_)) {
    onednn_ = std::make_unique<kernels::onednn::OnednnConvInference>(shape_, fold.weight.data(), fold.bias.data(),
                                                                     relu_ != nullptr);
    workspace_bytes_ = onednn_->workspace_bytes();
  } else {
    weight_ = Tensor::zeros(conv_weight.shape(), DType::F32);
    std::copy(fold.weight.begin(), fold.weight.end(), weight_.data<float>());
    workspace_bytes_ = size_t(kernels::cpu::conv2d_workspace_elems(shape_)) * sizeof(float);
  }
  bias_ = Tensor::zeros(Shape{shape_.k}, DType::F32);
  std::copy(fold.bias.begin(), fold.bias.end(), bias_.data<float>());
  y_ = Tensor::empty(out, DType::F32, ctx.device());
  return out;
}

const Tensor& ConvBnInference::forward_wrapped(Context& ctx, const Tensor& x) {
  const Tensor& normalised = bn_->forward(ctx, conv_->forward(ctx, x, false), false);
  return relu_ ? relu_->forward(ctx, normalised, false) : normalised;
}

const Tensor& ConvBnInference::forward_cpu(Context& ctx, const Tensor& x, bool training) {
  ASLNET_CHECK(!training) << "a model folded for inference (batch norm in its convolutions) cannot be trained";
  if (!folded_) return forward_wrapped(ctx, x);
  if (onednn_) {
    onednn_->forward(x.data<float>(), y_.data<float>(), ctx.workspace());
    return y_;
  }
  kernels::cpu::conv2d_forward<float>(shape_, x.data<float>(), weight_.data<float>(), y_.data<float>(),
                                      static_cast<float*>(ctx.workspace()));
  kernels::cpu::add_bias<float>(shape_.n * shape_.out_h() * shape_.out_w(), shape_.k, bias_.data<float>(),
                                relu_ != nullptr, y_.data<float>());
  return y_;
}

const Tensor& ConvBnInference::forward_cuda(Context& ctx, const Tensor& x, bool training) {
  ASLNET_CHECK(!training) << "a model folded for inference (batch norm in its convolutions) cannot be trained";
  return forward_wrapped(ctx, x);
}

const Tensor& ConvBnInference::backward_cpu(Context&, const Tensor&, bool) {
  ASLNET_CHECK(false) << "a model folded for inference (batch norm in its convolutions) has no backward";
  return y_;
}

const Tensor& ConvBnInference::backward_cuda(Context& ctx, const Tensor& dy, bool accumulate) {
  return backward_cpu(ctx, dy, accumulate);
}

void ConvBnInference::collect_parameters(std::vector<Parameter*>& out) {
  conv_->collect_parameters(out);
  bn_->collect_parameters(out);
}

void ConvBnInference::collect_state(std::vector<StateTensor*>& state, std::vector<Counter*>& counters) {
  bn_->collect_state(state, counters);
}

int fold_batch_norm_for_inference(Sequential& net) {
  std::vector<std::unique_ptr<Layer>> layers = net.release_layers();
  int wrapped = 0;
  for (size_t i = 0; i < layers.size(); ++i) {
    if (auto* residual = dynamic_cast<Residual*>(layers[i].get())) {
      wrapped += fold_batch_norm_for_inference(residual->main());
      wrapped += fold_batch_norm_for_inference(residual->shortcut());
    }
    const bool conv_then_bn = i + 1 < layers.size() && dynamic_cast<Conv2d*>(layers[i].get()) != nullptr &&
                              dynamic_cast<BatchNorm2d*>(layers[i + 1].get()) != nullptr;
    if (!conv_then_bn) {
      net.append(std::move(layers[i]));
      continue;
    }
    std::unique_ptr<Conv2d> conv(static_cast<Conv2d*>(layers[i].release()));
    std::unique_ptr<BatchNorm2d> bn(static_cast<BatchNorm2d*>(layers[i + 1].release()));
    std::unique_ptr<Layer> relu;
    if (i + 2 < layers.size() && dynamic_cast<ReLU*>(layers[i + 2].get()) != nullptr) relu = std::move(layers[i + 2]);
    i += relu ? 2 : 1;
    net.append(std::make_unique<ConvBnInference>(std::move(conv), std::move(bn), std::move(relu)));
    ++wrapped;
  }
  return wrapped;
}

int folded_for_inference(Sequential& net) {
  int folded = 0;
  for (const auto& layer : net.layers()) {
    if (dynamic_cast<ConvBnInference*>(layer.get()) != nullptr) ++folded;
    if (auto* residual = dynamic_cast<Residual*>(layer.get()))
      folded += folded_for_inference(residual->main()) + folded_for_inference(residual->shortcut());
  }
  return folded;
}

}  // namespace aslnet
