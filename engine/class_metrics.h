// Per-class precision, recall and F1, their macro averages, and top-k accuracy: the figures aslnet eval
// reports beside accuracy (engine/evaluate.h). Pure functions of a confusion matrix or of Predictions,
// so that they are tested on hand-made cases and an outside script can recompute them from eval's JSON.
//
// Definitions (scikit-learn's, with zero_division=0):
//   precision(c) = hits(c) / images predicted as c     (0 when nothing is predicted as c)
//   recall(c)    = hits(c) / images of c                (0 when c has no images; = per-class accuracy)
//   F1(c)        = 2 P R / (P + R)                      (0 when P + R = 0)
// The macro averages are plain means over the classes that have images in the set, so a set of letters
// only (no del/nothing/space) is not averaged with three zeros; macro F1 is the mean of the per-class
// F1s, not the F1 of the macro precision and recall.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/evaluate.h"

namespace aslnet {

struct ClassFigures {
  int64_t images = 0;     // images of the class (its confusion row)
  int64_t predicted = 0;  // images predicted as the class (its confusion column)
  int64_t hits = 0;       // images of the class predicted as it (the diagonal)
  double precision = 0.0, recall = 0.0, f1 = 0.0;
};

struct ClassMetrics {
  std::vector<ClassFigures> per_class;  // every class, in class order
  int64_t averaged_classes = 0;         // classes with images: what the macro averages are over
  double macro_precision = 0.0, macro_recall = 0.0, macro_f1 = 0.0;
};

// The figures of a classes x classes confusion matrix (row: true class, column: predicted).
ClassMetrics class_metrics(const std::vector<int64_t>& confusion, int64_t classes);

// The k most probable classes of row[0..classes), most probable first; ties go to the lower class index,
// as top_class does, so the first is always top_class(row). k is clamped to [1, classes].
std::vector<int32_t> top_k_classes(const double* row, int64_t classes, int k);

// How many readable rows have their true class among their k most probable (kUnreadableLabel rows are
// left out, as score() leaves them out). Divide by score(...).count for the top-k accuracy.
int64_t top_k_correct(const Predictions& predictions, int k);

}  // namespace aslnet
