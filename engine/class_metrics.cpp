#include "engine/class_metrics.h"

#include <algorithm>
#include <numeric>

#include "engine/core/batch_source.h"
#include "engine/core/error.h"

namespace aslnet {

ClassMetrics class_metrics(const std::vector<int64_t>& confusion, int64_t classes) {
  ASLNET_CHECK(classes > 0 && confusion.size() == size_t(classes * classes))
      << "class_metrics: " << classes << " classes need a " << classes << "x" << classes << " matrix, got "
      << confusion.size() << " counts";
  ClassMetrics m;
  m.per_class.resize(size_t(classes));
  for (int64_t t = 0; t < classes; ++t)
    for (int64_t p = 0; p < classes; ++p) {
      const int64_t n = confusion[size_t(t * classes + p)];
      m.per_class[size_t(t)].images += n;
      m.per_class[size_t(p)].predicted += n;
      if (t == p) m.per_class[size_t(t)].hits = n;
    }
  for (ClassFigures& c : m.per_class) {
    c.precision = c.predicted ? double(c.hits) / double(c.predicted) : 0.0;
    c.recall = c.images ? double(c.hits) / double(c.images) : 0.0;
    c.f1 = c.precision + c.recall > 0.0 ? 2.0 * c.precision * c.recall / (c.precision + c.recall) : 0.0;
    if (c.images == 0) continue;
    ++m.averaged_classes;
    m.macro_precision += c.precision;
    m.macro_recall += c.recall;
    m.macro_f1 += c.f1;
  }
  if (m.averaged_classes > 0) {
    m.macro_precision /= double(m.averaged_classes);
    m.macro_recall /= double(m.averaged_classes);
    m.macro_f1 /= double(m.averaged_classes);
  }
  return m;
}

std::vector<int32_t> top_k_classes(const double* row, int64_t classes, int k) {
  const int64_t n = std::clamp<int64_t>(k, 1, classes);
  std::vector<int32_t> order(static_cast<size_t>(classes));
  std::iota(order.begin(), order.end(), 0);
  // Larger probability first, then the lower index: the order top_class picks its first from.
  std::partial_sort(order.begin(), order.begin() + n, order.end(),
                    [row](int32_t a, int32_t b) { return row[a] > row[b] || (row[a] == row[b] && a < b); });
  order.resize(size_t(n));
  return order;
}

int64_t top_k_correct(const Predictions& predictions, int k) {
  int64_t correct = 0;
  for (int64_t i = 0; i < predictions.count(); ++i) {
    const int32_t label = predictions.labels[size_t(i)];
    if (label == kUnreadableLabel) continue;
    const std::vector<int32_t> top = top_k_classes(predictions.row(i), predictions.classes, k);
    correct += std::find(top.begin(), top.end(), label) != top.end();
  }
  return correct;
}

}  // namespace aslnet
