// Tests of classify_photos (models/inference_model.h), what predict, translate and serve run: with test-
// time augmentation off it is the model on eval_transform's view; flip TTA of a left-right symmetric
// photo gives the same probabilities as none (and of an ordinary photo, others); crops TTA is the mean
// of the six views run one by one. The model is set up for 3 rows, so 2 photos x 6 views take several
// runs, the last one padded.
#include <gtest/gtest.h>

#include <cstring>

#include "engine/evaluate.h"
#include "models/inference_model.h"
#include "models/resnet.h"
#include "tests/data/image_diff.h"

namespace aslnet {
namespace {

// 28-pixel input: a 32x32 photo is not resized and its centre crop is centred (2 pixels each side).
InferenceModel tiny_model(Context& ctx) {
  InferenceModel m;
  m.model = make_resnet({"resnet18", "small", 0.0625, 4, 3});
  Rng rng(11);
  init_torchvision(*m.model, rng);
  m.image_size = 28;
  m.classes = {"A", "B", "C", "D"};
  m.batch = 3;
  m.model->setup(ctx, m.batch, 28, 28);
  return m;
}

// The model on one view alone, in a batch of its own (the other rows zero).
std::vector<double> one_view(Context& ctx, InferenceModel& m, const Image& view) {
  Tensor input = Tensor::zeros(Shape{3, 28, 28, 3}, DType::F32);
  normalize_into(view, m.norm, DType::F32, input.data<float>());
  return softmax_rows(m.model->forward(ctx, input, false), 1)[0];
}

void expect_near(const std::vector<double>& a, const std::vector<double>& b, double tolerance) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], tolerance) << "class " << i;
}

TEST(InferenceTta, NoneIsTheModelOnTheEvaluationView) {
  Context ctx;
  InferenceModel m = tiny_model(ctx);
  const std::vector<Image> photos{test::random_image(50, 40, 1), test::random_image(32, 60, 2)};
  const auto probs = classify_photos(ctx, m, photos, TtaMode::none);
  ASSERT_EQ(probs.size(), 2u);
  for (size_t i = 0; i < photos.size(); ++i) expect_near(probs[i], one_view(ctx, m, eval_transform(photos[i], 28)), 1e-6);
}

TEST(InferenceTta, FlipOfASymmetricPhotoEqualsNone) {
  Context ctx;
  InferenceModel m = tiny_model(ctx);
  Image symmetric = test::random_image(32, 32, 3);
  for (int y = 0; y < 32; ++y)
    for (int x = 16; x < 32; ++x) std::memcpy(symmetric.at(x, y), symmetric.at(31 - x, y), 3);
  const Image ordinary = test::random_image(32, 32, 4);
  const auto none = classify_photos(ctx, m, {symmetric, ordinary}, TtaMode::none);
  const auto flip = classify_photos(ctx, m, {symmetric, ordinary}, TtaMode::flip);
  expect_near(flip[0], none[0], 1e-6);
  double moved = 0;
  for (size_t c = 0; c < 4; ++c) moved = std::max(moved, std::abs(flip[1][c] - none[1][c]));
  EXPECT_GT(moved, 1e-4) << "flip TTA left an asymmetric photo's probabilities unchanged";
}

TEST(InferenceTta, CropsAverageTheSixViews) {
  Context ctx;
  InferenceModel m = tiny_model(ctx);
  const std::vector<Image> photos{test::random_image(60, 45, 5), test::random_image(40, 70, 6)};
  const auto probs = classify_photos(ctx, m, photos, TtaMode::crops);
  ASSERT_EQ(probs.size(), 2u);
  for (size_t i = 0; i < photos.size(); ++i) {
    std::vector<std::vector<double>> per_view;
    for (const Image& view : tta_views(photos[i], 28, TtaMode::crops)) per_view.push_back(one_view(ctx, m, view));
    ASSERT_EQ(per_view.size(), 6u);
    expect_near(probs[i], average_probabilities(per_view), 1e-6);
    double sum = 0;
    for (double p : probs[i]) sum += p;
    EXPECT_NEAR(sum, 1.0, 1e-9);
  }
}

}  // namespace
}  // namespace aslnet
