#include "engine/evaluate.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "engine/input_stager.h"

namespace aslnet {

namespace {

// The softmax of one row of logits, in double (the largest logit subtracted first, so nothing overflows).
template <class T>
void softmax_into(const T* logits, int64_t classes, double* out) {
  const double peak = double(*std::max_element(logits, logits + classes));
  double sum = 0.0;
  for (int64_t j = 0; j < classes; ++j) sum += out[j] = std::exp(double(logits[j]) - peak);
  for (int64_t j = 0; j < classes; ++j) out[j] /= sum;
}

}  // namespace

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
  restricted_correct += other.restricted_correct;
  std::vector<int32_t> both;
  std::set_union(restricted_classes.begin(), restricted_classes.end(), other.restricted_classes.begin(),
                 other.restricted_classes.end(), std::back_inserter(both));
  restricted_classes = std::move(both);
  for (size_t i = 0; i < confusion.size() && i < other.confusion.size(); ++i) confusion[i] += other.confusion[i];
  return *this;
}

void Predictions::append(const Predictions& other) {
  if (count() == 0 && classes == 0) classes = other.classes;
  ASLNET_CHECK(classes == other.classes) << "cannot append predictions over " << other.classes << " classes to "
                                         << classes;
  labels.insert(labels.end(), other.labels.begin(), other.labels.end());
  probabilities.insert(probabilities.end(), other.probabilities.begin(), other.probabilities.end());
}

Predictions predict_source(Context& ctx, Model& model, BatchSource& source, int64_t epoch) {
  Predictions p;
  p.classes = model.info().num_classes;
  source.start_epoch(epoch);
  Batch batch;
  InputStager stager(ctx, model);
  while (source.next(batch)) {
    const Tensor logits = host_float_copy(model.forward(ctx, stager.stage(batch).images, /*training=*/false));
    const int32_t* labels = batch.labels.data<int32_t>();
    p.labels.insert(p.labels.end(), labels, labels + batch.valid);
    const size_t first = p.probabilities.size();
    p.probabilities.resize(first + size_t(batch.valid * p.classes));
    dispatch_real(logits.dtype(), [&](auto tag) {
      using T = decltype(tag);
      for (int64_t i = 0; i < batch.valid; ++i)
        softmax_into(logits.data<T>() + i * p.classes, p.classes, p.probabilities.data() + first + i * p.classes);
    });
  }
  return p;
}

std::vector<int32_t> present_classes(const Predictions& predictions) {
  std::vector<int32_t> present = predictions.labels;
  std::erase(present, kUnreadableLabel);
  std::sort(present.begin(), present.end());
  present.erase(std::unique(present.begin(), present.end()), present.end());
  return present;
}

int32_t top_class(const double* row, int64_t classes) { return int32_t(std::max_element(row, row + classes) - row); }

EvalResult score(const Predictions& predictions, const std::vector<int32_t>& restrict_to) {
  EvalResult r;
  r.classes = predictions.classes;
  r.confusion.assign(size_t(r.classes * r.classes), 0);
  r.restricted_classes = restrict_to.empty() ? present_classes(predictions) : restrict_to;
  std::sort(r.restricted_classes.begin(), r.restricted_classes.end());
  for (int32_t c : r.restricted_classes)
    ASLNET_CHECK(c >= 0 && c < r.classes) << "score: class " << c << " is not one of the " << r.classes;
  double loss_sum = 0.0;
  for (int64_t i = 0; i < predictions.count(); ++i) {
    const double* row = predictions.row(i);
    const int32_t label = predictions.labels[size_t(i)];
    if (label == kUnreadableLabel) continue;
    ASLNET_CHECK(label >= 0 && label < r.classes)
        << "score: label " << label << " is not one of the " << r.classes << " classes";
    const int32_t predicted = top_class(row, r.classes);
    ++r.confusion[size_t(label * r.classes + predicted)];
    r.correct += predicted == label;
    // The first of the allowed classes with the largest probability (softmax keeps the logits' order).
    int32_t restricted = -1;
    for (int32_t c : r.restricted_classes)
      if (restricted < 0 || row[c] > row[restricted]) restricted = c;
    r.restricted_correct += restricted == label;
    loss_sum -= std::log(std::max(row[label], 1e-300));
    ++r.count;
  }
  r.loss = r.count ? loss_sum / double(r.count) : 0.0;
  return r;
}

EvalResult evaluate(Context& ctx, Model& model, BatchSource& source, int64_t epoch) {
  return score(predict_source(ctx, model, source, epoch));
}

std::vector<int64_t> most_confident_misreads(const Predictions& predictions, int64_t max) {
  std::vector<int64_t> wrong;
  std::vector<double> confidence(size_t(predictions.count()), 0.0);
  for (int64_t i = 0; i < predictions.count(); ++i) {
    const int32_t top = top_class(predictions.row(i), predictions.classes);
    confidence[size_t(i)] = predictions.row(i)[top];
    const int32_t label = predictions.labels[size_t(i)];
    if (label != kUnreadableLabel && top != label) wrong.push_back(i);
  }
  std::stable_sort(wrong.begin(), wrong.end(),
                   [&](int64_t a, int64_t b) { return confidence[size_t(a)] > confidence[size_t(b)]; });
  if (int64_t(wrong.size()) > max) wrong.resize(size_t(std::max<int64_t>(max, 0)));
  return wrong;
}

std::vector<std::vector<double>> softmax_rows(const Tensor& logits, int64_t rows) {
  const Tensor host = host_float_copy(logits);
  const int64_t classes = host.shape()[1];
  std::vector<std::vector<double>> out(static_cast<size_t>(rows), std::vector<double>(static_cast<size_t>(classes)));
  dispatch_real(host.dtype(), [&](auto tag) {
    using T = decltype(tag);
    for (int64_t i = 0; i < rows; ++i) softmax_into(host.data<T>() + i * classes, classes, out[size_t(i)].data());
  });
  return out;
}

}  // namespace aslnet
