#include <algorithm>
#include <cmath>

#include "kernels/loss.h"

namespace aslnet::kernels::cpu {

namespace {

// The one loop behind both losses; `target(i, j)` is row i's smoothed target at class j. The two
// target rules below compute the same doubles for a one-hot row, so the soft loss of one-hot targets
// is bit for bit the hard loss.
template <class T, class Target>
double cross_entropy_rows(int64_t batch, int64_t classes, const T* logits, Target target, T* dlogits,
                          double scale) {
  double total = 0.0;
  for (int64_t i = 0; i < batch; ++i) {
    const T* row = logits + i * classes;
    const double peak = *std::max_element(row, row + classes);
    double sum = 0.0, target_dot = 0.0;
    for (int64_t j = 0; j < classes; ++j) {
      sum += std::exp(double(row[j]) - peak);
      target_dot += target(i, j) * double(row[j]);
    }
    const double log_sum = peak + std::log(sum);
    total += log_sum - target_dot;  // the targets sum to 1
    if (dlogits != nullptr) {
      for (int64_t j = 0; j < classes; ++j) {
        const double p = std::exp(double(row[j]) - log_sum);
        dlogits[i * classes + j] = T((p - target(i, j)) * scale / double(batch));
      }
    }
  }
  return total / double(batch);
}

}  // namespace

template <class T>
double softmax_cross_entropy(int64_t batch, int64_t classes, const T* logits, const int32_t* labels,
                             double label_smoothing, T* dlogits, double scale) {
  const double off = label_smoothing / double(classes);
  const double on = 1.0 - label_smoothing + off;
  return cross_entropy_rows(
      batch, classes, logits, [&](int64_t i, int64_t j) { return j == labels[i] ? on : off; }, dlogits, scale);
}

template <class T>
double softmax_cross_entropy_soft(int64_t batch, int64_t classes, const T* logits, const float* targets,
                                  double label_smoothing, T* dlogits, double scale) {
  const double off = label_smoothing / double(classes);
  const double keep = 1.0 - label_smoothing;
  // keep * 1 + off and keep * 0 + off are exactly the hard loss's `on` and `off`.
  return cross_entropy_rows(
      batch, classes, logits, [&](int64_t i, int64_t j) { return keep * double(targets[i * classes + j]) + off; },
      dlogits, scale);
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
template double softmax_cross_entropy_soft<float>(int64_t, int64_t, const float*, const float*, double, float*,
                                                  double);
template double softmax_cross_entropy_soft<double>(int64_t, int64_t, const double*, const float*, double, double*,
                                                   double);
template int64_t top1_correct<float>(int64_t, int64_t, const float*, const int32_t*);
template int64_t top1_correct<double>(int64_t, int64_t, const double*, const int32_t*);

}  // namespace aslnet::kernels::cpu
