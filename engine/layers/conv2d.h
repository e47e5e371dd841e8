// Conv2d: NHWC convolution with KRSC filters and no bias.
#pragma once

#include <memory>

#include "engine/layer.h"
#include "kernels/conv.h"
#include "kernels/conv_onednn.h"

namespace aslnet {

class Conv2d : public KernelLayer {
 public:
  Conv2d(std::string name, int64_t in_channels, int64_t out_channels, int64_t kernel, int64_t stride, int64_t pad);

  std::string kind() const override { return "conv2d"; }
  Shape setup(Context& ctx, const Shape& in, DType dtype) override;
  size_t workspace_bytes() const override { return workspace_bytes_; }
  const kernels::ConvShape& conv_shape() const { return shape_; }
  // The convolution's shape for NHWC inputs of shape `in` (what setup would make it), checked against the
  // layer (channels, kernel size); nothing is allocated.
  kernels::ConvShape shape_for(const Shape& in) const;
  // The input the last forward kept (benchmarks re-run this layer alone on it).
  const Tensor& input() const { return input_; }
  // On the CPU: oneDNN's convolution when setup chose the fast kernels (fp32 and --cpu-kernels fast),
  // else null (the reference im2col + OpenBLAS).
  const kernels::onednn::OnednnConv* onednn() const { return onednn_.get(); }

 private:
  const Tensor& forward_cpu(Context& ctx, const Tensor& x, bool training) override;
  const Tensor& forward_cuda(Context& ctx, const Tensor& x, bool training) override;
  const Tensor& backward_cpu(Context& ctx, const Tensor& dy, bool accumulate) override;
  const Tensor& backward_cuda(Context& ctx, const Tensor& dy, bool accumulate) override;

  Parameter weight_;
  kernels::ConvShape shape_;
  DType dtype_ = DType::F32;
  Tensor input_;  // the forward input, kept for the filter gradient
  Tensor y_, dx_;
  // GPU: cuDNN's descriptors and algorithms for this shape, chosen at setup.
  std::unique_ptr<kernels::cuda::CudnnConv> cudnn_;
  // CPU, fast kernels: oneDNN's primitives for this shape, created at setup.
  std::unique_ptr<kernels::onednn::OnednnConv> onednn_;
  size_t workspace_bytes_ = 0;
};

}  // namespace aslnet
