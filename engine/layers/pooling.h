// MaxPool2d (the ImageNet stem's 3x3, stride 2, pad 1) and the global average pool before the
// classifier, which turns [N, H, W, C] into [N, C].
#pragma once

#include "engine/layer.h"
#include "kernels/pool.h"

namespace aslnet {

class MaxPool2d : public KernelLayer {
 public:
  MaxPool2d(int64_t window, int64_t stride, int64_t pad);
  std::string kind() const override { return "maxpool2d"; }
  Shape setup(Context& ctx, const Shape& in, DType dtype) override;
  // The window, stride and padding (from construction; the sizes once set up).
  const kernels::PoolShape& pool_shape() const { return shape_; }

 private:
  const Tensor& forward_cpu(Context& ctx, const Tensor& x, bool training) override;
  const Tensor& forward_cuda(Context& ctx, const Tensor& x, bool training) override;
  const Tensor& backward_cpu(Context& ctx, const Tensor& dy, bool accumulate) override;
  const Tensor& backward_cuda(Context& ctx, const Tensor& dy, bool accumulate) override;

  kernels::PoolShape shape_;
  DType dtype_ = DType::F32;
  Tensor argmax_, y_, dx_;
};

class GlobalAvgPool : public KernelLayer {
 public:
  std::string kind() const override { return "global_avgpool"; }
  Shape setup(Context& ctx, const Shape& in, DType dtype) override;

 private:
  const Tensor& forward_cpu(Context& ctx, const Tensor& x, bool training) override;
  const Tensor& forward_cuda(Context& ctx, const Tensor& x, bool training) override;
  const Tensor& backward_cpu(Context& ctx, const Tensor& dy, bool accumulate) override;
  const Tensor& backward_cuda(Context& ctx, const Tensor& dy, bool accumulate) override;

  Shape in_;
  DType dtype_ = DType::F32;
  Tensor y_, dx_;
};

}  // namespace aslnet
