// Tests of evaluation's scoring (engine/evaluate.h): on hand-built logits whose answers are worked out
// below, top-1 and restricted accuracy, the confusion matrix and the loss; several sets' figures add up
// whether they are summed (EvalResult +=) or scored together (Predictions::append); the most confident
// mistakes come first; and evaluate() over a batch source with a padded last batch equals the model's
// own logits, row by row, with the padding left out.
#include <gtest/gtest.h>

#include <cmath>

#include "data/toy_task.h"
#include "engine/evaluate.h"
#include "models/resnet.h"

namespace aslnet {
namespace {

// Five classes, of which the set has images of 0, 1 and 3 only (2 and 4 play del / nothing / space).
//   sample label logits              top (unrestricted)      top among {0, 1, 3}
//   0      0     2 1 0 0 5           4  wrong                0  right
//   1      0     0 3 0 1 4           4  wrong                1  wrong
//   2      1     0 2 9 0 0           2  wrong                1  right
//   3      3     0 0 0 3 1           3  right                3  right
//   4      3     1 1 0 1 0           0  wrong (first of tie) 0  wrong (first of tie)
const float kLogits[5][5] = {{2, 1, 0, 0, 5}, {0, 3, 0, 1, 4}, {0, 2, 9, 0, 0}, {0, 0, 0, 3, 1}, {1, 1, 0, 1, 0}};
const int32_t kLabels[5] = {0, 0, 1, 3, 3};

Predictions hand_built(int64_t first = 0, int64_t count = 5) {
  Tensor logits = Tensor::zeros(Shape{count, 5}, DType::F32);
  for (int64_t i = 0; i < count; ++i)
    for (int64_t j = 0; j < 5; ++j) logits.data<float>()[i * 5 + j] = kLogits[first + i][j];
  Predictions p;
  p.classes = 5;
  for (const auto& row : softmax_rows(logits, count))
    p.probabilities.insert(p.probabilities.end(), row.begin(), row.end());
  p.labels.assign(kLabels + first, kLabels + first + count);
  return p;
}

double cross_entropy(int64_t i) {
  double sum = 0;
  for (float v : kLogits[i]) sum += std::exp(double(v));
  return std::log(sum) - double(kLogits[i][kLabels[i]]);
}

TEST(Evaluate, RestrictedAccuracyOnHandBuiltLogits) {
  const Predictions p = hand_built();
  EXPECT_EQ(present_classes(p), (std::vector<int32_t>{0, 1, 3}));
  const EvalResult r = score(p);
  EXPECT_EQ(r.count, 5);
  EXPECT_EQ(r.correct, 1);
  EXPECT_EQ(r.restricted_correct, 3);
  EXPECT_DOUBLE_EQ(r.accuracy(), 0.2);
  EXPECT_DOUBLE_EQ(r.restricted_accuracy(), 0.6);
  EXPECT_EQ(r.restricted_classes, (std::vector<int32_t>{0, 1, 3}));
  // Confusion rows: true class; columns: the unrestricted prediction.
  EXPECT_EQ(r.confusion[0 * 5 + 4], 2);
  EXPECT_EQ(r.confusion[1 * 5 + 2], 1);
  EXPECT_EQ(r.confusion[3 * 5 + 3], 1);
  EXPECT_EQ(r.confusion[3 * 5 + 0], 1);
  EXPECT_EQ(r.class_count(0), 2);
  EXPECT_EQ(r.class_count(2), 0);
  EXPECT_DOUBLE_EQ(r.class_accuracy(3), 0.5);
  double loss = 0;
  for (int64_t i = 0; i < 5; ++i) loss += cross_entropy(i) / 5;
  EXPECT_NEAR(r.loss, loss, 1e-12);
  // An explicit restriction: class 2 allowed too takes sample 2 (its logit 9 wins), so two hits remain.
  EXPECT_EQ(score(p, {0, 1, 2, 3}).restricted_correct, 2);
  // Every class allowed: restricted is plain top-1.
  EXPECT_EQ(score(p, {0, 1, 2, 3, 4}).restricted_correct, r.correct);
  EXPECT_THROW(score(p, {7}), Error);
}

TEST(Evaluate, PartsAddUpToTheWhole) {
  const Predictions a = hand_built(0, 2), b = hand_built(2, 3);
  EvalResult summed = score(a);
  summed += score(b);
  Predictions both = a;
  both.append(b);
  const EvalResult whole = score(both);
  EXPECT_EQ(summed.count, 5);
  EXPECT_EQ(whole.count, 5);
  EXPECT_EQ(summed.correct, whole.correct);
  EXPECT_EQ(summed.confusion, whole.confusion);
  EXPECT_NEAR(summed.loss, whole.loss, 1e-12);
  // Restricted hits differ on purpose: part a holds class 0 only (both its samples are then right), part
  // b classes 1 and 3 (samples 2 and 3 right), while the whole restricts to {0, 1, 3} (three right).
  EXPECT_EQ(score(a).restricted_correct, 2);
  EXPECT_EQ(score(b).restricted_correct, 2);
  EXPECT_EQ(summed.restricted_correct, 4);
  EXPECT_EQ(summed.restricted_classes, (std::vector<int32_t>{0, 1, 3}));
  EXPECT_EQ(whole.restricted_correct, 3);
}

TEST(Evaluate, MostConfidentMisreadsFirst) {
  const Predictions p = hand_built();
  // Misread: 0 (p(4) = e^5 / (e^5 + e^2 + e + 2)), 1, 2 (p(2) near 1), 4 (a three-way tie: 1/... lowest).
  const std::vector<int64_t> all = most_confident_misreads(p, 10);
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all[0], 2);
  EXPECT_EQ(all[1], 0);
  EXPECT_EQ(all[2], 1);
  EXPECT_EQ(all[3], 4);
  EXPECT_EQ(most_confident_misreads(p, 2), (std::vector<int64_t>{2, 0}));
  EXPECT_TRUE(most_confident_misreads(p, 0).empty());
}

// A file the loader could not read (kUnreadableLabel) counts nowhere: not in the figures, the present
// classes, or the misreads; the others score as they would without it.
TEST(Evaluate, UnreadableSamplesAreLeftOut) {
  const Predictions whole = hand_built();
  Predictions marked = whole;
  marked.labels[2] = kUnreadableLabel;  // sample 2 was a misread of class 3 (its only sample)
  Predictions without = hand_built(0, 2);
  without.append(hand_built(3, 2));
  const EvalResult got = score(marked), want = score(without, present_classes(without));
  EXPECT_EQ(got.count, 4);
  EXPECT_EQ(got.correct, want.correct);
  EXPECT_EQ(got.confusion, want.confusion);
  EXPECT_EQ(got.restricted_correct, want.restricted_correct);
  EXPECT_NEAR(got.loss, want.loss, 1e-12);
  EXPECT_EQ(present_classes(marked), present_classes(without));
  EXPECT_EQ(most_confident_misreads(marked, 10), (std::vector<int64_t>{0, 1, 4}));
}

// Batches of four from a 12-sample toy task; the last batch says only two of its rows are real.
class PaddedSource : public BatchSource {
 public:
  PaddedSource() : task_(make_toy_task(12, 5, 8, 3)) {}
  int64_t batches_per_epoch() const override { return 3; }
  void start_epoch(int64_t) override { next_ = 0; }
  bool next(Batch& batch) override {
    if (next_ == 3) return false;
    const ToyTask part = toy_batch(task_, next_ * 4, 4);
    batch.images = part.images;
    batch.labels = part.labels;
    batch.valid = next_ == 2 ? 2 : 4;
    ++next_;
    return true;
  }
  const ToyTask& task() const { return task_; }

 private:
  ToyTask task_;
  int64_t next_ = 0;
};

TEST(Evaluate, OverASourceMatchesTheModelsLogits) {
  Context ctx;
  auto model = make_resnet({"resnet18", "small", 0.0625, 5, 3});
  Rng rng(5);
  init_torchvision(*model, rng);
  model->setup(ctx, 4, 8, 8);
  PaddedSource source;
  const Predictions p = predict_source(ctx, *model, source);
  ASSERT_EQ(p.count(), 10);
  ASSERT_EQ(p.probabilities.size(), 50u);
  Predictions direct;
  direct.classes = 5;
  for (int64_t b = 0; b < 3; ++b) {
    const ToyTask part = toy_batch(source.task(), b * 4, 4);
    const int64_t valid = b == 2 ? 2 : 4;
    for (const auto& row : softmax_rows(model->forward(ctx, part.images, false), valid))
      direct.probabilities.insert(direct.probabilities.end(), row.begin(), row.end());
    direct.labels.insert(direct.labels.end(), part.labels.data<int32_t>(), part.labels.data<int32_t>() + valid);
  }
  EXPECT_EQ(p.labels, direct.labels);
  for (size_t i = 0; i < p.probabilities.size(); ++i) EXPECT_NEAR(p.probabilities[i], direct.probabilities[i], 1e-9);
  const EvalResult r = evaluate(ctx, *model, source), expected = score(direct);
  EXPECT_EQ(r.count, 10);
  EXPECT_EQ(r.correct, expected.correct);
  EXPECT_EQ(r.restricted_correct, expected.restricted_correct);
  EXPECT_EQ(r.confusion, expected.confusion);
  EXPECT_NEAR(r.loss, expected.loss, 1e-9);
}

}  // namespace
}  // namespace aslnet
