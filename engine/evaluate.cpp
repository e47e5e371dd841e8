#include "engine/evaluate.h"

#include <algorithm>
#include <cmath>

#include "engine/input_stager.h"
#include "kernels/loss.h"

namespace aslnet {

double EvalResult::class_accuracy(int64_t c) const {
  const int64_t n = class_count(c);
  return n ? double(confusion[size_t(c * classes + c)]) / double(n) : 0.0;
}

int64_t EvalResult::class_count(int64_t c) const {
  int64_t n = 0;
  for (int64_t p = 0; p < classes; ++p) n += confusion[size_t(c * classes + p)];
  return n;
}

EvalResult& EvalResult::operator+=(const EvalResult& other) {
  if (classes == 0) {
    classes = other.classes;
    confusion.assign(other.confusion.size(), 0);
  }
  ASLNET_CHECK(classes == other.classes) << "cannot add evaluations over " << classes << " and " << other.classes
                                         << " classes";
  const int64_t total = count + other.count;
  loss = total ? (loss * double(count) + other.loss * double(other.count)) / double(total) : 0.0;
  count = total;
  correct += other.correct;
  for (size_t i = 0; i < confusion.size() && i < other.confusion.size(); ++i) confusion[i] += other.confusion[i];
  return *this;
}

EvalResult evaluate(Context& ctx, Model& model, BatchSource& source, int64_t epoch,
                    const InputNormalization& u8_normalization) {
  EvalResult r;
  r.classes = model.info().num_classes;
  r.confusion.assign(size_t(r.classes * r.classes), 0);
  source.start_epoch(epoch);
  Batch batch;
  InputStager stager(ctx, model, u8_normalization);
  double loss_sum = 0.0;
  while (source.next(batch)) {
    const Tensor logits = host_float_copy(model.forward(ctx, stager.stage(batch).images, /*training=*/false));
    const int32_t* labels = batch.labels.data<int32_t>();
    dispatch_real(logits.dtype(), [&](auto tag) {
      using T = decltype(tag);
      const T* l = logits.data<T>();
      loss_sum += double(batch.valid) *
                  kernels::cpu::softmax_cross_entropy<T>(batch.valid, r.classes, l, labels, 0.0, nullptr);
      for (int64_t i = 0; i < batch.valid; ++i) {
        const T* row = l + i * r.classes;
        const int64_t predicted = std::max_element(row, row + r.classes) - row;
        ++r.confusion[size_t(labels[i] * r.classes + predicted)];
        r.correct += predicted == labels[i];
      }
    });
    r.count += batch.valid;
  }
  r.loss = r.count ? loss_sum / double(r.count) : 0.0;
  return r;
}

std::vector<std::vector<double>> softmax_rows(const Tensor& logits, int64_t rows) {
  const Tensor host = host_float_copy(logits);
  const int64_t classes = host.shape()[1];
  std::vector<std::vector<double>> out(static_cast<size_t>(rows), std::vector<double>(static_cast<size_t>(classes)));
  dispatch_real(host.dtype(), [&](auto tag) {
    using T = decltype(tag);
    for (int64_t i = 0; i < rows; ++i) {
      const T* row = host.data<T>() + i * classes;
      const double peak = *std::max_element(row, row + classes);
      double sum = 0.0;
      for (int64_t j = 0; j < classes; ++j) sum += out[size_t(i)][size_t(j)] = std::exp(double(row[j]) - peak);
      for (double& p : out[size_t(i)]) p /= sum;
    }
  });
  return out;
}

}  // namespace aslnet
