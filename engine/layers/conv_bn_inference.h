// ConvBnInference: for inference on the CPU's fast kernels, a convolution, the batch norm after it and
// the ReLU after that (when there is one) run as one convolution: batch norm in evaluation mode folded
// into the convolution's weights and a bias (engine/fold.h), and the ReLU applied as the output is
// written. Where oneDNN pays off (kernels::onednn::pays_off) that is one oneDNN primitive with the
// weights reordered once at setup (kernels::onednn::OnednnConvInference); elsewhere (rows of under 4
// pixels) the reference convolution on the folded weights, then the bias and ReLU in one pass. Either
// way batch norm's own pass over the activations is gone.
//
// It wraps the original layers rather than replacing them: the model's parameter list, checkpoint
// names and state stay as they were, and where no folding applies (GPU, f64, --cpu-kernels reference)
// the wrapped layers run one after another, unchanged. The folded weights are computed at setup from
// the wrapped layers' values, so a model is folded after its weights are loaded and is not trained
// afterwards: forward refuses training and backward refuses always.
#pragma once

#include <memory>

#include "engine/layer.h"
#include "engine/layers/sequential.h"
#include "kernels/conv.h"
#include "kernels/conv_onednn.h"

namespace aslnet {

class Conv2d;
class BatchNorm2d;

class ConvBnInference : public KernelLayer {
 public:
  // `relu` may be null (a batch norm that closes a residual branch, or a shortcut's).
  ConvBnInference(std::unique_ptr<Conv2d> conv, std::unique_ptr<BatchNorm2d> bn, std::unique_ptr<Layer> relu);
  ~ConvBnInference() override;

  std::string kind() const override { return "conv_bn_inference"; }
  Shape setup(Context& ctx, const Shape& in, DType dtype) override;
  size_t workspace_bytes() const override { return workspace_bytes_; }
  void collect_parameters(std::vector<Parameter*>& out) override;
  void collect_state(std::vector<StateTensor*>& state, std::vector<Counter*>& counters) override;
  // Whether setup folded batch norm in (the CPU's fast kernels, fp32); else the wrapped layers run.
  bool folded() const { return folded_; }
  const kernels::onednn::OnednnConvInference* onednn() const { return onednn_.get(); }

 private:
  const Tensor& forward_cpu(Context& ctx, const Tensor& x, bool training) override;
  const Tensor& forward_cuda(Context& ctx, const Tensor& x, bool training) override;
  const Tensor& backward_cpu(Context& ctx, const Tensor& dy, bool accumulate) override;
  const Tensor& backward_cuda(Context& ctx, const Tensor& dy, bool accumulate) override;
  const Tensor& forward_wrapped(Context& ctx, const Tensor& x);

  std::unique_ptr<Conv2d> conv_;
  std::unique_ptr<BatchNorm2d> bn_;
  std::unique_ptr<Layer> relu_;
  bool folded_ = false;
  kernels::ConvShape shape_;
  Tensor weight_, bias_;  // folded (KRSC, per output channel), for the reference convolution
  std::unique_ptr<kernels::onednn::OnednnConvInference> onednn_;
  Tensor y_;
  size_t workspace_bytes_ = 0;
};

// Wraps every Conv2d followed by a BatchNorm2d (with the ReLU after it, when one follows) in `net` and
// in the branches of its residual blocks in a ConvBnInference. Returns how many it wrapped. Call after
// the weights are loaded and before Model::setup; the model is then for inference only.
int fold_batch_norm_for_inference(Sequential& net);

// How many ConvBnInference layers `net` holds (0: not folded), so that a copy of a model can be folded
// as its original was.
int folded_for_inference(Sequential& net);

}  // namespace aslnet
