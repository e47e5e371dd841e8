// Linear: y = x . W^T + b, with W [out, in] as torch keeps it (the classifier, `fc`).
#pragma once

#include "engine/layer.h"

namespace aslnet {

class Linear : public KernelLayer {
 public:
  Linear(std::string name, int64_t in_features, int64_t out_features);
  std::string kind() const override { return "linear"; }
  Shape setup(Context& ctx, const Shape& in, DType dtype) override;
  size_t workspace_bytes() const override;
  int64_t in_features() const { return in_; }
  int64_t out_features() const { return out_; }
  // The input the last forward kept (benchmarks re-run this layer alone on it).
  const Tensor& input() const { return input_; }

 private:
  const Tensor& forward_cpu(Context& ctx, const Tensor& x, bool training) override;
  const Tensor& forward_cuda(Context& ctx, const Tensor& x, bool training) override;
  const Tensor& backward_cpu(Context& ctx, const Tensor& dy, bool accumulate) override;
  const Tensor& backward_cuda(Context& ctx, const Tensor& dy, bool accumulate) override;

  Parameter weight_, bias_;
  int64_t in_, out_, batch_ = 0;
  DType dtype_ = DType::F32;
  Tensor input_, y_, dx_;
};

}  // namespace aslnet
