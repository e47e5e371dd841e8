#include "engine/loss.h"

#include "kernels/loss.h"

namespace aslnet {

namespace {
void check_inputs(const Tensor& logits, const Tensor& labels) {
  ASLNET_CHECK(logits.shape().rank() == 2) << "logits must be [batch, classes], got " << logits.shape().str();
  ASLNET_CHECK(labels.dtype() == DType::I32 && labels.numel() == logits.shape()[0])
      << "labels must be i32 [" << logits.shape()[0] << "], got " << dtype_name(labels.dtype()) << labels.shape().str();
  const int32_t* l = labels.data<int32_t>();
  for (int64_t i = 0; i < labels.numel(); ++i)
    ASLNET_CHECK(l[i] >= 0 && l[i] < logits.shape()[1]) << "label " << l[i] << " outside [0, " << logits.shape()[1] << ")";
}
}  // namespace

LossResult CrossEntropyLoss::forward_backward(Context&, const Tensor& logits, const Tensor& labels, double scale) {
  check_inputs(logits, labels);
  if (!(dlogits_.shape() == logits.shape()) || dlogits_.dtype() != logits.dtype())
    dlogits_ = Tensor::empty(logits.shape(), logits.dtype(), logits.device());
  const int64_t batch = logits.shape()[0], classes = logits.shape()[1];
  return dispatch_real(logits.dtype(), [&](auto tag) {
    using T = decltype(tag);
    LossResult r;
    r.loss = kernels::cpu::softmax_cross_entropy<T>(batch, classes, logits.data<T>(), labels.data<int32_t>(),
                                                    label_smoothing_, dlogits_.data<T>(), scale);
    r.correct = kernels::cpu::top1_correct<T>(batch, classes, logits.data<T>(), labels.data<int32_t>());
    return r;
  });
}

LossResult CrossEntropyLoss::evaluate(Context&, const Tensor& logits, const Tensor& labels) const {
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
