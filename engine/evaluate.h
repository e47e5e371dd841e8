// Evaluation over a batch source: loss, top-1 accuracy, the confusion matrix (rows: true class,
// columns: predicted class), and the accuracy restricted to the classes the set has images of. Batch
// norm runs on its running statistics; padded rows of the last batch (Batch::valid) are not counted.
//
// Two steps, so that callers can combine passes before scoring: predict_source keeps every sample's
// class probabilities (test-time augmentation averages several passes, data/tta.h; several sources are
// scored together by appending them), score() turns them into the figures.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/core/batch_source.h"
#include "engine/input_stager.h"
#include "engine/model.h"

namespace aslnet {

struct EvalResult {
  int64_t classes = 0, count = 0, correct = 0;
  double loss = 0.0;               // mean cross-entropy (no label smoothing)
  std::vector<int64_t> confusion;  // classes x classes, row = true class
  // Each prediction restricted to restricted_classes (the classes with images in the set, sorted): the
  // argmax over those classes' logits only. A set without del/nothing/space (real photos of letters)
  // is then not charged for a model's liking for them; with every class present it equals `correct`.
  int64_t restricted_correct = 0;
  std::vector<int32_t> restricted_classes;
  double accuracy() const { return count ? double(correct) / double(count) : 0.0; }
  double restricted_accuracy() const { return count ? double(restricted_correct) / double(count) : 0.0; }
  double class_accuracy(int64_t c) const;  // recall of class c (0 when it has no samples)
  int64_t class_count(int64_t c) const;
  // Adds another set's figures (counts, hits and confusion summed, the loss weighted by count). The
  // restricted hits add up too, each set's under its own restriction; restricted_classes becomes the union.
  EvalResult& operator+=(const EvalResult& other);
};

// Every sample's class probabilities from one pass over a source.
struct Predictions {
  int64_t classes = 0;
  // One per sample, in the order the source gave them; kUnreadableLabel for a file that could not be
  // read, which score() and the other functions here leave out.
  std::vector<int32_t> labels;
  std::vector<double> probabilities;  // labels.size() x classes, row-major: the softmax of the logits
  int64_t count() const { return int64_t(labels.size()); }
  const double* row(int64_t i) const { return probabilities.data() + i * classes; }
  // Appends another pass's samples after these (same number of classes).
  void append(const Predictions& other);
};

// One pass over `source` (epoch `epoch`), padding rows dropped.
Predictions predict_source(Context& ctx, Model& model, BatchSource& source, int64_t epoch = 0);

// The classes that have at least one (readable) sample, sorted.
std::vector<int32_t> present_classes(const Predictions& predictions);

// The figures of `predictions`, restricted accuracy over `restrict_to` (empty: present_classes). A
// sample's loss is -log of its probability, a probability under 1e-300 counting as 1e-300.
EvalResult score(const Predictions& predictions, const std::vector<int32_t>& restrict_to = {});

// score(predict_source(...)): what the trainer reports each epoch.
EvalResult evaluate(Context& ctx, Model& model, BatchSource& source, int64_t epoch = 0);

// The samples whose top class (unrestricted) is wrong, most confident first (ties: sample order), at
// most `max` of them: a deterministic pick of the mistakes worth looking at.
std::vector<int64_t> most_confident_misreads(const Predictions& predictions, int64_t max);

// The index of the largest value of row[0..classes) (the first on ties).
int32_t top_class(const double* row, int64_t classes);

// Softmax probabilities of the first `rows` rows of logits [batch, classes], as doubles.
std::vector<std::vector<double>> softmax_rows(const Tensor& logits, int64_t rows);

}  // namespace aslnet
