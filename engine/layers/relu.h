// ReLU. Its backward reads its own output (y > 0), so the input need not be kept alive.
#pragma once

#include "engine/layer.h"

namespace aslnet {

class ReLU : public Layer {
 public:
  std::string kind() const override { return "relu"; }
  Shape setup(Context& ctx, const Shape& in, DType dtype) override;
  const Tensor& forward(Context& ctx, const Tensor& x, bool training) override;
  const Tensor& backward(Context& ctx, const Tensor& dy, bool accumulate) override;

 private:
  DType dtype_ = DType::F32;
  Tensor y_, dx_;
};

}  // namespace aslnet
