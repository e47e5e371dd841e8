#include <algorithm>
#include <cmath>

#include "kernels/loss.h"

namespace aslnet::kernels::cpu {

namespace {

// The one loop behind both losses. `target(i, j)` is row i's smoothed target at class j and
// `target.deficit(i)` is 1 - sum_j target(i, j): zero for hard labels, and for soft rows whatever fp32
// left over (mixup's lambda and 1 - lambda need not add up to exactly 1). The loss is the definition,
// sum_j t_j (logsumexp - x_j) = logsumexp - t.x - deficit * logsumexp, so a row's mass error costs no
// more than that, whatever the logits' size; its gradient is softmax * (1 - deficit) - t. For one-hot
// rows the two target rules compute the same doubles and the deficit is exactly 0, so the soft loss is
// bit for bit the hard loss.
template <class T, class Target>
double cross_entropy_rows(int64_t batch, int64_t classes, const T* logits, const Target& target, T* dlogits,
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
    const double deficit = target.deficit(i);
    total += log_sum - target_dot - deficit * log_sum;
    if (dlogits != nullptr) {
      for (int64_t j = 0; j < classes; ++j) {
        const double p = std::exp(double(row[j]) - log_sum);
        dlogits[i * classes + j] = T((p * (1.0 - deficit) - target(i, j)) * scale / double(batch));
      }
    }
  }
  return total / double(batch);
}

// torch's label smoothing of an integer label; the targets sum to 1.
struct HardTarget {
  const int32_t* labels;
  double on, off;
  double operator()(int64_t i, int64_t j) const { return j == labels[i] ? on : off; }
  double deficit(int64_t) const { return 0.0; }
};

// (1 - eps) t + eps / classes of the rows of `targets`: keep * 1 + off and keep * 0 + off are exactly
// the hard rule's `on` and `off`.
struct SoftTarget {
  const float* targets;
  int64_t classes;
  double keep, off;
  double operator()(int64_t i, int64_t j) const { return keep * double(targets[i * classes + j]) + off; }
  // 1 - sum_j t'_j = keep * (1 - sum_j t_j): exactly 0 for a one-hot row.
  double deficit(int64_t i) const {
    double mass = 0.0;
    for (int64_t j = 0; j < classes; ++j) mass += double(targets[i * classes + j]);
    return keep * (1.0 - mass);
  }
};

}  // namespace

template <class T>
double softmax_cross_entropy(int64_t batch, int64_t classes, const T* logits, const int32_t* labels,
                             double label_smoothing, T* dlogits, double scale) {
  const double off = label_smoothing / double(classes);
  const double on = 1.0 - label_smoothing + off;
  return cross_entropy_rows(batch, classes, logits, HardTarget{labels, on, off}, dlogits, scale);
}

template <class T>
double softmax_cross_entropy_soft(int64_t batch, int64_t classes, const T* logits, const float* targets,
                                  double label_smoothing, T* dlogits, double scale) {
  const SoftTarget target{targets, classes, 1.0 - label_smoothing, label_smoothing / double(classes)};
  return cross_entropy_rows(batch, classes, logits, target, dlogits, scale);
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
