// ReLU. Its backward reads its own output (y > 0), so the input need not be kept alive.
#pragma once

#include "engine/layer.h"

namespace aslnet {

class ReLU : public KernelLayer {
 public:
  std::string kind() const override { return "relu"; }
  Shape setup(Context& ctx, const Shape& in, DType dtype) override;

 private:
  const Tensor& forward_cpu(Context& ctx, const Tensor& x, bool training) override;
  const Tensor& forward_cuda(Context& ctx, const Tensor& x, bool training) override;
  const Tensor& backward_cpu(Context& ctx, const Tensor& dy, bool accumulate) override;
  const Tensor& backward_cuda(Context& ctx, const Tensor& dy, bool accumulate) override;

  DType dtype_ = DType::F32;
  Tensor y_, dx_;
};

}  // namespace aslnet
