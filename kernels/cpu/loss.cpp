#include <algorithm>
#include <cmath>

#include "kernels/loss.h"

namespace aslnet::kernels::cpu {

template <class T>
double softmax_cross_entropy(int64_t batch, int64_t classes, const T* logits, const int32_t* labels,
                             double label_smoothing, T* dlogits, double scale) {
  const double off = label_smoothing / double(classes);
  const double on = 1.0 - label_smoothing + off;
  double total = 0.0;
  for (int64_t i = 0; i < batch; ++i) {
    const T* row = logits + i * classes;
    const double peak = *std::max_element(row, row + classes);
    double sum = 0.0, target_dot = 0.0;
    for (int64_t j = 0; j < classes; ++j) {
      sum += std::exp(double(row[j]) - peak);
      target_dot += (j == labels[i] ? on : off) * double(row[j]);
    }
    const double log_sum = peak + std::log(sum);
    total += log_sum - target_dot;  // the targets sum to 1
    if (dlogits != nullptr) {
      for (int64_t j = 0; j < classes; ++j) {
        const double p = std::exp(double(row[j]) - log_sum);
        dlogits[i * classes + j] = T((p - (j == labels[i] ? on : off)) * scale / double(batch));
      }
    }
  }
  return total / double(batch);
}

template <class T>
int64_t top1_correct(int64_t batch, int64_t classes, const T* logits, const int32_t* labels) {
  int64_t correct = 0;
  for (int64_t i = 0; i < batch; ++i) {
    const T* row = logits + i * classes;
    correct += (std::max_element(row, row + classes) - row) == labels[i];
  }
  return correct;
}

template double softmax_cross_entropy<float>(int64_t, int64_t, const float*, const int32_t*, double, float*, double);
template double softmax_cross_entropy<double>(int64_t, int64_t, const double*, const int32_t*, double, double*,
                                              double);
template int64_t top1_correct<float>(int64_t, int64_t, const float*, const int32_t*);
template int64_t top1_correct<double>(int64_t, int64_t, const double*, const int32_t*);

}  // namespace aslnet::kernels::cpu
