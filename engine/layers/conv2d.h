// Conv2d: NHWC convolution with KRSC filters and no bias.
#pragma once

#include <memory>

#include "engine/layer.h"
#include "kernels/conv.h"

namespace aslnet {

class Conv2d : public Layer {
 public:
  Conv2d(std::string name, int64_t in_channels, int64_t out_channels, int64_t kernel, int64_t stride, int64_t pad);

  std::string kind() const override { return "conv2d"; }
  Shape setup(Context& ctx, const Shape& in, DType dtype) override;
  const Tensor& forward(Context& ctx, const Tensor& x, bool training) override;
  const Tensor& backward(Context& ctx, const Tensor& dy, bool accumulate) override;
  void collect_parameters(std::vector<Parameter*>& out) override { out.push_back(&weight_); }
  size_t workspace_bytes() const override;
  const kernels::ConvShape& conv_shape() const { return shape_; }
  // The input the last forward kept (benchmarks re-run this layer alone on it).
  const Tensor& input() const { return input_; }

 private:
  Parameter weight_;
  kernels::ConvShape shape_;
  DType dtype_ = DType::F32;
  Tensor input_;  // the forward input, kept for the filter gradient
  Tensor y_, dx_;
  // GPU: cuDNN's descriptors and algorithms for this shape, chosen at setup.
  std::unique_ptr<kernels::cuda::CudnnConv> cudnn_;
};

}  // namespace aslnet
