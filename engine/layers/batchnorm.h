// BatchNorm2d over the channel axis of NHWC activations, with torch's semantics: batch statistics and
// running-average updates in training, running statistics in evaluation. Backward is the gradient of
// the forward that ran last, so a network can also be trained with frozen (evaluation-mode) batch norm.
#pragma once

#include "engine/layer.h"
#include "kernels/norm.h"

namespace aslnet {

class BatchNorm2d : public KernelLayer {
 public:
  BatchNorm2d(std::string name, int64_t channels, double momentum = 0.1, double eps = 1e-5);

  std::string kind() const override { return "batchnorm2d"; }
  Shape setup(Context& ctx, const Shape& in, DType dtype) override;
  void collect_state(std::vector<StateTensor*>& state, std::vector<Counter*>& counters) override;
  size_t workspace_bytes() const override { return workspace_bytes_; }
  // The input the last forward kept (benchmarks re-run this layer alone on it).
  const Tensor& input() const { return input_; }
  // The epsilon added to the variance (exporters fold it into the preceding convolution).
  double eps() const { return eps_; }

  // The last batch norm of a residual block: torchvision's zero_init_residual zeroes its weight.
  bool closes_residual_branch = false;

 private:
  const Tensor& forward_cpu(Context& ctx, const Tensor& x, bool training) override;
  const Tensor& forward_cuda(Context& ctx, const Tensor& x, bool training) override;
  const Tensor& backward_cpu(Context& ctx, const Tensor& dy, bool accumulate) override;
  const Tensor& backward_cuda(Context& ctx, const Tensor& dy, bool accumulate) override;

  Parameter weight_, bias_;
  StateTensor running_mean_, running_var_;
  Counter batches_tracked_;
  double momentum_, eps_;
  kernels::NormShape shape_;
  DType dtype_ = DType::F32;
  size_t workspace_bytes_ = 0;
  // Whether the last forward used the batch's statistics: backward differentiates that forward.
  bool batch_statistics_ = true;
  Tensor input_, save_mean_, save_invstd_, y_, dx_;
};

}  // namespace aslnet
