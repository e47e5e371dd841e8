#include "engine/input_stager.h"

#include "engine/core/cuda_check.h"
#include "kernels/elementwise.h"

namespace aslnet {

InputStager::InputStager(Context& ctx, const Model& model)
    : ctx_(ctx), compute_dtype_(model.compute_dtype()), gpu_(ctx.device().is_cuda()) {
  if (!gpu_) return;
  for (Slot& s : slots_) {
    s.copied = make_event();
    s.consumed = make_event();
  }
  mean_ = Tensor::empty(Shape{3}, DType::F32, ctx.device());
  std_ = Tensor::empty(Shape{3}, DType::F32, ctx.device());
}

namespace {
// A tensor of `shape` and `dtype` on `device`, reallocated only when the request changes (the last
// batch of an evaluation may be smaller, and a step must not allocate).
void ensure(Tensor& t, const Shape& shape, DType dtype, Device device) {
  if (!t.defined() || !(t.shape() == shape) || t.dtype() != dtype || !(t.device() == device))
    t = Tensor::empty(shape, dtype, device);
}
}  // namespace

const Batch& InputStager::stage(const Batch& host) {
  ASLNET_CHECK(host.images.device().is_cpu() && host.labels.device().is_cpu() &&
               (!host.targets.defined() || host.targets.device().is_cpu()))
      << "InputStager takes host batches";
  ASLNET_CHECK(!host.targets.defined() || (host.targets.dtype() == DType::F32 && host.targets.shape().rank() == 2 &&
                                           host.targets.shape()[0] == host.labels.numel()))
      << "soft targets must be f32 [" << host.labels.numel() << ", classes], got " << dtype_name(host.targets.dtype())
      << host.targets.shape().str();
  if (!gpu_) {
    if (host.images.dtype() == compute_dtype_) {
      converted_ = host;
      return converted_;
    }
    ASLNET_CHECK(host.images.dtype() == DType::F32 && compute_dtype_ == DType::F64)
        << "the CPU cannot feed " << dtype_name(host.images.dtype()) << " images to an " << dtype_name(compute_dtype_)
        << " model";
    ensure(converted_.images, host.images.shape(), DType::F64, Device::cpu());
    for (int64_t i = 0; i < host.images.numel(); ++i)
      converted_.images.data<double>()[i] = host.images.data<float>()[i];
    converted_.labels = host.labels;
    converted_.targets = host.targets;  // f32 whatever the model's type: the loss reads them as f32
    converted_.valid = host.valid;
    return converted_;
  }

  Slot& slot = slots_[size_t(next_slot_)];
  next_slot_ ^= 1;
  // The other slot's batch has been handed to every kernel that reads it: mark that point on the compute
  // stream, so that its next copy waits for those kernels and no longer.
  Slot& other = slots_[size_t(next_slot_)];
  if (other.used) CUDA_CHECK(cudaEventRecord(other.consumed.get(), ctx_.stream()));
  cudaStream_t copy = ctx_.copy_stream();
  if (slot.used) CUDA_CHECK(cudaStreamWaitEvent(copy, slot.consumed.get(), 0));

  const DType src = host.images.dtype();
  ASLNET_CHECK(src == compute_dtype_ || src == DType::U8 || (src == DType::F32 && compute_dtype_ == DType::BF16))
      << "cannot feed " << dtype_name(src) << " images to a " << dtype_name(compute_dtype_) << " model";
  ensure(slot.batch.images, host.images.shape(), compute_dtype_, ctx_.device());
  ensure(slot.batch.labels, host.labels.shape(), DType::I32, ctx_.device());
  if (src == compute_dtype_) {
    CUDA_CHECK(
        cudaMemcpyAsync(slot.batch.images.raw(), host.images.raw(), host.images.bytes(), cudaMemcpyHostToDevice, copy));
  } else {
    ensure(staging_, host.images.shape(), src, ctx_.device());
    CUDA_CHECK(cudaMemcpyAsync(staging_.raw(), host.images.raw(), host.images.bytes(), cudaMemcpyHostToDevice, copy));
    if (src == DType::U8) {
      const int64_t channels = host.images.shape().c();
      ASLNET_CHECK(channels == 3) << "u8 batches are normalised with 3 channels' mean and std, got " << channels;
      if (!norm_uploaded_ || !(host.norm == uploaded_)) {
        // On the copy stream, before the kernel that reads them; earlier batches' kernels, queued before
        // on the same stream, have read the values they were given. (A run's loader never changes them.)
        uploaded_ = host.norm;
        norm_uploaded_ = true;
        CUDA_CHECK(
            cudaMemcpyAsync(mean_.raw(), uploaded_.mean.data(), sizeof uploaded_.mean, cudaMemcpyHostToDevice, copy));
        CUDA_CHECK(
            cudaMemcpyAsync(std_.raw(), uploaded_.std.data(), sizeof uploaded_.std, cudaMemcpyHostToDevice, copy));
      }
      dispatch_gpu(compute_dtype_, [&](auto tag) {
        using T = decltype(tag);
        kernels::cuda::normalize_u8<T>(copy, host.images.numel() / channels, channels, staging_.data<uint8_t>(),
                                       mean_.data<float>(), std_.data<float>(), slot.batch.images.data<T>());
      });
    } else {
      kernels::cuda::cast<float, bf16>(copy, host.images.numel(), staging_.data<float>(),
                                       slot.batch.images.data<bf16>());
    }
  }
  CUDA_CHECK(
      cudaMemcpyAsync(slot.batch.labels.raw(), host.labels.raw(), host.labels.bytes(), cudaMemcpyHostToDevice, copy));
  if (host.targets.defined()) {
    // Soft targets ride with the labels: same stream, same event, so the step sees both or neither.
    ensure(slot.targets, host.targets.shape(), DType::F32, ctx_.device());
    CUDA_CHECK(
        cudaMemcpyAsync(slot.targets.raw(), host.targets.raw(), host.targets.bytes(), cudaMemcpyHostToDevice, copy));
    slot.batch.targets = slot.targets;
  } else {
    slot.batch.targets = Tensor();  // the buffer stays in slot.targets, for the next batch that has some
  }
  slot.batch.valid = host.valid;
  slot.used = true;
  CUDA_CHECK(cudaEventRecord(slot.copied.get(), copy));
  CUDA_CHECK(cudaStreamWaitEvent(ctx_.stream(), slot.copied.get(), 0));
  // The loader refills its host buffer once the next batch is asked for: the copy must be done by then.
  CUDA_CHECK(cudaEventSynchronize(slot.copied.get()));
  return slot.batch;
}

}  // namespace aslnet
