// Tests of the per-class figures and top-k accuracy (engine/class_metrics.h) on hand-made cases whose
// answers are worked out below: a class that is never predicted has precision 0 (and F1 0), a class
// without images is left out of the macro averages, ties in top-k go to the lower class index as
// top_class's do, unreadable rows are not counted, and top-1 and recall agree with score().
#include <gtest/gtest.h>

#include "engine/class_metrics.h"
#include "engine/core/batch_source.h"

namespace aslnet {
namespace {

// Four classes (rows: true, columns: predicted). Class 2 has images but is never predicted; class 3 has
// no images (it plays del / nothing / space on a set of letters) but is predicted once.
//            0  1  2  3     images  predicted  hits  precision  recall  F1
//   class 0  3  1  0  0     4       5          3     3/5        3/4     2/3
//   class 1  1  2  0  1     4       4          2     2/4        2/4     1/2
//   class 2  1  1  0  0     2       0          0     0 (none)   0       0
//   class 3  0  0  0  0     0       1          0     0          0       0  (not averaged)
const std::vector<int64_t> kConfusion = {3, 1, 0, 0, 1, 2, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0};

TEST(ClassMetrics, PerClassFigures) {
  const ClassMetrics m = class_metrics(kConfusion, 4);
  ASSERT_EQ(m.per_class.size(), 4u);
  const int64_t images[] = {4, 4, 2, 0}, predicted[] = {5, 4, 0, 1}, hits[] = {3, 2, 0, 0};
  const double precision[] = {0.6, 0.5, 0.0, 0.0}, recall[] = {0.75, 0.5, 0.0, 0.0};
  const double f1[] = {2.0 / 3.0, 0.5, 0.0, 0.0};
  for (size_t c = 0; c < 4; ++c) {
    SCOPED_TRACE(c);
    EXPECT_EQ(m.per_class[c].images, images[c]);
    EXPECT_EQ(m.per_class[c].predicted, predicted[c]);
    EXPECT_EQ(m.per_class[c].hits, hits[c]);
    EXPECT_DOUBLE_EQ(m.per_class[c].precision, precision[c]);
    EXPECT_DOUBLE_EQ(m.per_class[c].recall, recall[c]);
    EXPECT_DOUBLE_EQ(m.per_class[c].f1, f1[c]);
  }
}

TEST(ClassMetrics, NeverPredictedClassHasPrecisionZero) {
  // Precision is 0/0 for class 2; it is defined as 0 (scikit-learn's zero_division=0), not NaN, and its
  // F1 is 0 rather than 0/0.
  const ClassFigures c = class_metrics(kConfusion, 4).per_class[2];
  EXPECT_EQ(c.predicted, 0);
  EXPECT_EQ(c.precision, 0.0);
  EXPECT_EQ(c.f1, 0.0);
}

TEST(ClassMetrics, MacroAveragesOverClassesWithImages) {
  const ClassMetrics m = class_metrics(kConfusion, 4);
  EXPECT_EQ(m.averaged_classes, 3);  // class 3 has no images
  EXPECT_DOUBLE_EQ(m.macro_precision, (0.6 + 0.5 + 0.0) / 3.0);
  EXPECT_DOUBLE_EQ(m.macro_recall, (0.75 + 0.5 + 0.0) / 3.0);
  // The mean of the F1s (7/18), not the F1 of the mean precision and recall.
  EXPECT_DOUBLE_EQ(m.macro_f1, (2.0 / 3.0 + 0.5 + 0.0) / 3.0);
}

TEST(ClassMetrics, PerfectAndEmpty) {
  const ClassMetrics perfect = class_metrics({2, 0, 0, 5}, 2);
  EXPECT_DOUBLE_EQ(perfect.macro_precision, 1.0);
  EXPECT_DOUBLE_EQ(perfect.macro_recall, 1.0);
  EXPECT_DOUBLE_EQ(perfect.macro_f1, 1.0);
  const ClassMetrics empty = class_metrics({0, 0, 0, 0}, 2);
  EXPECT_EQ(empty.averaged_classes, 0);
  EXPECT_EQ(empty.macro_f1, 0.0);
  EXPECT_THROW(class_metrics({1, 2, 3}, 2), Error);
}

// Four rows over four classes, one of them unreadable.
//   row  probabilities          label        ranked (ties: lower index first)
//   0    .1  .5  .3  .1         2            1 2 0 3   top-1 wrong, top-2 right
//   1    .25 .25 .25 .25        3            0 1 2 3   right only in the top 4
//   2    (unreadable)           -            -         never counted
//   3    .7  .1  .1  .1         0            0 1 2 3   top-1 right
Predictions hand_made() {
  Predictions p;
  p.classes = 4;
  p.probabilities = {.1, .5, .3, .1, .25, .25, .25, .25, .4, .3, .2, .1, .7, .1, .1, .1};
  p.labels = {2, 3, kUnreadableLabel, 0};
  return p;
}

TEST(TopK, ClassesInOrderWithTiesToTheLowerIndex) {
  const Predictions p = hand_made();
  EXPECT_EQ(top_k_classes(p.row(0), 4, 2), (std::vector<int32_t>{1, 2}));
  EXPECT_EQ(top_k_classes(p.row(0), 4, 4), (std::vector<int32_t>{1, 2, 0, 3}));
  EXPECT_EQ(top_k_classes(p.row(1), 4, 3), (std::vector<int32_t>{0, 1, 2}));
  EXPECT_EQ(top_k_classes(p.row(3), 4, 3), (std::vector<int32_t>{0, 1, 2}));
  // k is clamped to [1, classes].
  EXPECT_EQ(top_k_classes(p.row(0), 4, 0), (std::vector<int32_t>{1}));
  EXPECT_EQ(top_k_classes(p.row(0), 4, 9).size(), 4u);
  for (int64_t i = 0; i < p.count(); ++i) EXPECT_EQ(top_k_classes(p.row(i), 4, 1)[0], top_class(p.row(i), 4));
}

TEST(TopK, CorrectCountsLeaveUnreadableRowsOut) {
  const Predictions p = hand_made();
  EXPECT_EQ(top_k_correct(p, 1), 1);
  EXPECT_EQ(top_k_correct(p, 2), 2);
  EXPECT_EQ(top_k_correct(p, 3), 2);
  EXPECT_EQ(top_k_correct(p, 4), 3);
  EXPECT_EQ(top_k_correct(p, 5), 3);
}

TEST(TopK, AgreesWithScore) {
  // Top-1 hits are score()'s correct count, and per-class recall is its per-class accuracy.
  const Predictions p = hand_made();
  const EvalResult r = score(p);
  EXPECT_EQ(r.count, 3);
  EXPECT_EQ(top_k_correct(p, 1), r.correct);
  const ClassMetrics m = class_metrics(r.confusion, r.classes);
  for (int64_t c = 0; c < r.classes; ++c) EXPECT_DOUBLE_EQ(m.per_class[size_t(c)].recall, r.class_accuracy(c));
}

}  // namespace
}  // namespace aslnet
