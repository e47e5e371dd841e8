// BatchNorm2d over the channel axis of NHWC activations, with torch's semantics: batch statistics and
// running-average updates in training, running statistics in evaluation. Backward is the gradient of
// the forward that ran last, so a network can also be trained with frozen (evaluation-mode) batch norm.
#pragma once

#include "engine/fold.h"
#include "engine/layer.h"
#include "engine/layers/batchnorm_sync.h"
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
  // Its affine parameters, running statistics and epsilon, as engine/fold.h folds them into the
  // convolution before it (the ONNX export, inference on the CPU). fp32 host values: a CPU model's.
  BatchNormValues fold_values() const;

  // The last batch norm of a residual block: torchvision's zero_init_residual zeroes its weight.
  bool closes_residual_branch = false;

  // Synchronised batch norm (--sync-bn, engine/replication/sync_batch_norm.h): with a sync, training
  // forwards normalise with the statistics of the global batch over all replicas, and their backward
  // is that batch's gradient (batchnorm_sync.cpp). nullptr (the default) restores the plain layer.
  // Evaluation forwards, frozen batch norm included, never talk to the replicas.
  void set_sync(BatchNormSync* sync) { sync_ = sync; }
  BatchNormSync* sync() const { return sync_; }

 private:
  const Tensor& forward_cpu(Context& ctx, const Tensor& x, bool training) override;
  const Tensor& forward_cuda(Context& ctx, const Tensor& x, bool training) override;
  const Tensor& backward_cpu(Context& ctx, const Tensor& dy, bool accumulate) override;
  const Tensor& backward_cuda(Context& ctx, const Tensor& dy, bool accumulate) override;
  // The synchronised training forward and its backward (batchnorm_sync.cpp).
  void forward_synced_cpu(Context& ctx, const Tensor& x);
  void forward_synced_cuda(Context& ctx, const Tensor& x);
  void backward_synced_cpu(Context& ctx, const Tensor& dy, bool accumulate);
  void backward_synced_cuda(Context& ctx, const Tensor& dy, bool accumulate);

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
  BatchNormSync* sync_ = nullptr;
  // Whether the last forward used the global batch's statistics; its buffers (kernels/norm_sync.h):
  // `stats` (2c + 1: the forward's sums and row count, kept for backward) and `grad_sums` (2c).
  bool synced_ = false;
  Tensor sync_stats_, sync_grad_sums_;
};

}  // namespace aslnet
