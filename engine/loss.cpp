#include "engine/loss.h"

#include <cmath>

#include "engine/core/cuda_check.h"
#include "kernels/loss.h"

namespace aslnet {

namespace {
void check_inputs(const Tensor& logits, const Tensor& labels) {
  ASLNET_CHECK(logits.shape().rank() == 2) << "logits must be [batch, classes], got " << logits.shape().str();
  ASLNET_CHECK(labels.dtype() == DType::I32 && labels.numel() == logits.shape()[0])
      << "labels must be i32 [" << logits.shape()[0] << "], got " << dtype_name(labels.dtype()) << labels.shape().str();
  ASLNET_CHECK(labels.device() == logits.device())
      << "labels live on " << labels.device().str() << ", logits on " << logits.device().str();
  // Device labels come from the loader, which checked them on the host; reading them here would stall.
  if (labels.device().is_cuda()) return;
  const int32_t* l = labels.data<int32_t>();
  for (int64_t i = 0; i < labels.numel(); ++i)
    ASLNET_CHECK(l[i] >= 0 && l[i] < logits.shape()[1])
        << "label " << l[i] << " outside [0, " << logits.shape()[1] << ")";
}

// Soft targets: f32 [batch, classes] beside the logits; on the host, each row a distribution (the
// smoothing and the loss's logsumexp - t.x form assume rows summing to 1). Device targets were written
// on the host (data/mix.h's mix_batch) before the copy; reading them back here would stall.
void check_targets(const Tensor& logits, const Tensor& targets) {
  if (!targets.defined()) return;
  ASLNET_CHECK(targets.dtype() == DType::F32 && targets.shape() == logits.shape())
      << "soft targets must be f32 " << logits.shape().str() << ", got " << dtype_name(targets.dtype())
      << targets.shape().str();
  ASLNET_CHECK(targets.device() == logits.device())
      << "soft targets live on " << targets.device().str() << ", logits on " << logits.device().str();
  if (targets.device().is_cuda()) return;
  const int64_t batch = logits.shape()[0], classes = logits.shape()[1];
  const float* t = targets.data<float>();
  for (int64_t i = 0; i < batch; ++i) {
    double sum = 0.0;
    for (int64_t j = 0; j < classes; ++j) {
      ASLNET_CHECK(t[i * classes + j] >= 0.0f)
          << "soft target row " << i << " has " << t[i * classes + j] << " at class " << j;
      sum += t[i * classes + j];
    }
    ASLNET_CHECK(std::abs(sum - 1.0) < 1e-4) << "soft target row " << i << " sums to " << sum << ", not 1";
  }
}
}  // namespace

void CrossEntropyLoss::ensure_buffers(const Tensor& logits) {
  if (!(dlogits_.shape() == logits.shape()) || dlogits_.dtype() != logits.dtype() ||
      !(dlogits_.device() == logits.device()))
    dlogits_ = Tensor::empty(logits.shape(), logits.dtype(), logits.device());
  if (logits.device().is_cuda() && !(loss_sum_.defined() && loss_sum_.device() == logits.device())) {
    loss_sum_ = Tensor::zeros(Shape{1}, DType::F32, logits.device());
    correct_ = Tensor::zeros(Shape{1}, DType::I32, logits.device());
  }
}

void CrossEntropyLoss::forward_backward_pending(Context& ctx, const Tensor& logits, const Tensor& labels, double scale,
                                                const Tensor& targets) {
  if (logits.device().is_cpu()) {
    const LossResult r = forward_backward(ctx, logits, labels, scale, targets);
    pending_loss_sum_ += r.loss * double(logits.shape()[0]);
    pending_correct_ += r.correct;
    pending_rows_ += logits.shape()[0];
    return;
  }
  check_inputs(logits, labels);
  check_targets(logits, targets);
  ensure_buffers(logits);
  const int64_t batch = logits.shape()[0], classes = logits.shape()[1];
  // The device sums only ever add up (read_pending zeroes them), so that a step captured in a CUDA
  // graph adds its loss on every replay as an eager step does.
  dispatch_gpu(logits.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if (targets.defined())
      kernels::cuda::softmax_cross_entropy_soft<T>(ctx.stream(), batch, classes, logits.data<T>(),
                                                   targets.data<float>(), labels.data<int32_t>(), label_smoothing_,
                                                   dlogits_.data<T>(), scale, loss_sum_.data<float>(),
                                                   correct_.data<int32_t>(), /*accumulate=*/true);
    else
      kernels::cuda::softmax_cross_entropy<T>(ctx.stream(), batch, classes, logits.data<T>(), labels.data<int32_t>(),
                                              label_smoothing_, dlogits_.data<T>(), scale, loss_sum_.data<float>(),
                                              correct_.data<int32_t>(), /*accumulate=*/true);
  });
  pending_on_device_ = true;
  pending_rows_ += batch;
}

LossResult CrossEntropyLoss::read_pending(Context& ctx) {
  LossResult r;
  if (pending_on_device_) {
    float loss_sum = 0.0f;
    int32_t correct = 0;
    CUDA_CHECK(cudaMemcpyAsync(&loss_sum, loss_sum_.raw(), sizeof loss_sum, cudaMemcpyDeviceToHost, ctx.stream()));
    CUDA_CHECK(cudaMemcpyAsync(&correct, correct_.raw(), sizeof correct, cudaMemcpyDeviceToHost, ctx.stream()));
    CUDA_CHECK(cudaMemsetAsync(loss_sum_.raw(), 0, sizeof loss_sum, ctx.stream()));
    CUDA_CHECK(cudaMemsetAsync(correct_.raw(), 0, sizeof correct, ctx.stream()));
    ctx.synchronize();
    pending_loss_sum_ = loss_sum;
    pending_correct_ = correct;
  }
  r.loss = pending_rows_ ? pending_loss_sum_ / double(pending_rows_) : 0.0;
  r.correct = pending_correct_;
  pending_loss_sum_ = 0.0;
  pending_correct_ = pending_rows_ = 0;
  pending_on_device_ = false;
  return r;
}

void CrossEntropyLoss::note_replayed(int64_t rows) {
  pending_on_device_ = true;
  pending_rows_ += rows;
}

LossResult CrossEntropyLoss::forward_backward(Context& ctx, const Tensor& logits, const Tensor& labels, double scale,
                                              const Tensor& targets) {
  if (logits.device().is_cuda()) {
    ASLNET_CHECK(!pending_on_device_) << "forward_backward called with pending results: read_pending() first";
    forward_backward_pending(ctx, logits, labels, scale, targets);
    return read_pending(ctx);
  }
  check_inputs(logits, labels);
  check_targets(logits, targets);
  ensure_buffers(logits);
  const int64_t batch = logits.shape()[0], classes = logits.shape()[1];
  return dispatch_real(logits.dtype(), [&](auto tag) {
    using T = decltype(tag);
    LossResult r;
    r.loss = targets.defined()
                 ? kernels::cpu::softmax_cross_entropy_soft<T>(batch, classes, logits.data<T>(), targets.data<float>(),
                                                               label_smoothing_, dlogits_.data<T>(), scale)
                 : kernels::cpu::softmax_cross_entropy<T>(batch, classes, logits.data<T>(), labels.data<int32_t>(),
                                                          label_smoothing_, dlogits_.data<T>(), scale);
    r.correct = kernels::cpu::top1_correct<T>(batch, classes, logits.data<T>(), labels.data<int32_t>());
    return r;
  });
}

LossResult CrossEntropyLoss::evaluate(Context& ctx, const Tensor& logits, const Tensor& labels) const {
  if (logits.device().is_cuda()) {
    // Evaluation is not the hot path: score on the host, where the CPU kernels already are.
    ctx.synchronize();
    return evaluate(ctx, host_float_copy(logits), labels.to(Device::cpu()));
  }
  check_inputs(logits, labels);
  const int64_t batch = logits.shape()[0], classes = logits.shape()[1];
  return dispatch_real(logits.dtype(), [&](auto tag) {
    using T = decltype(tag);
    LossResult r;
    r.loss = kernels::cpu::softmax_cross_entropy<T>(batch, classes, logits.data<T>(), labels.data<int32_t>(),
                                                    label_smoothing_, nullptr);
    r.correct = kernels::cpu::top1_correct<T>(batch, classes, logits.data<T>(), labels.data<int32_t>());
    return r;
  });
}

}  // namespace aslnet
