// Tests of the test-time augmentation views (data/tta.h): each mode's views in their documented order
// and size; the centre view is eval_transform and the centre crop of the evaluation resize is too (which
// pins tta.cpp's copy of the resize's geometry to transforms.cpp's); each corner view is the matching
// corner crop of that resize; the mirrored view is the centre mirrored; a left-right symmetric photo's
// mirrored view equals its centre view; and the average is the element-wise mean.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "data/transforms.h"
#include "data/tta.h"
#include "engine/core/error.h"
#include "tests/data/image_diff.h"

namespace aslnet {
namespace {

Image crop_of(const Image& src, int left, int top, int size) {
  Image out;
  out.width = out.height = size;
  for (int y = 0; y < size; ++y)
    for (int x = 0; x < size; ++x) {
      const uint8_t* p = src.pixels.data() + (size_t(top + y) * size_t(src.width) + size_t(left + x)) * 3;
      out.pixels.insert(out.pixels.end(), p, p + 3);
    }
  return out;
}

Image mirrored(const Image& src) {
  Image out = src;
  for (int y = 0; y < src.height; ++y)
    for (int x = 0; x < src.width; ++x)
      std::memcpy(out.at(x, y), src.pixels.data() + (size_t(y) * size_t(src.width) + size_t(src.width - 1 - x)) * 3, 3);
  return out;
}

TEST(Tta, ModesListTheirViewsInOrder) {
  EXPECT_EQ(tta_view_list(TtaMode::none), std::vector<EvalView>{EvalView::centre});
  EXPECT_EQ(tta_view_list(TtaMode::flip), (std::vector<EvalView>{EvalView::centre, EvalView::centre_mirrored}));
  EXPECT_EQ(tta_view_list(TtaMode::crops),
            (std::vector<EvalView>{EvalView::centre, EvalView::centre_mirrored, EvalView::top_left,
                                   EvalView::top_right, EvalView::bottom_left, EvalView::bottom_right}));
  for (TtaMode m : {TtaMode::none, TtaMode::flip, TtaMode::crops}) EXPECT_EQ(parse_tta(tta_name(m)), m);
  try {
    parse_tta("tencrop");
    FAIL() << "parse_tta accepted tencrop";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--tta tencrop"), std::string::npos) << e.what();
  }
}

TEST(Tta, EveryViewIsSizeBySize) {
  const Image wide = test::random_image(120, 90, 1), tall = test::random_image(70, 130, 2);
  for (const Image* image : {&wide, &tall})
    for (TtaMode m : {TtaMode::none, TtaMode::flip, TtaMode::crops}) {
      const std::vector<Image> views = tta_views(*image, 32, m);
      ASSERT_EQ(views.size(), tta_view_list(m).size());
      for (const Image& v : views) {
        EXPECT_EQ(v.width, 32);
        EXPECT_EQ(v.height, 32);
        EXPECT_EQ(v.pixels.size(), 32u * 32u * 3u);
      }
    }
}

// 120x90 at 32 px: the shorter side goes to round(32 / 0.875) = 37, the longer to int(37 * 120 / 90) = 49.
TEST(Tta, CornerViewsAreCropsOfTheEvaluationResize) {
  const Image photo = test::random_image(120, 90, 3);
  const Image resized = resize(photo, 49, 37);
  // The centre crop of this resize is eval_transform's output (offsets round((49-32)/2)=8, round(2.5)=2).
  EXPECT_EQ(test::max_diff(crop_of(resized, 8, 2, 32), eval_transform(photo, 32)), 0);
  EXPECT_EQ(test::max_diff(eval_view(photo, 32, EvalView::centre), eval_transform(photo, 32)), 0);
  EXPECT_EQ(test::max_diff(eval_view(photo, 32, EvalView::top_left), crop_of(resized, 0, 0, 32)), 0);
  EXPECT_EQ(test::max_diff(eval_view(photo, 32, EvalView::top_right), crop_of(resized, 17, 0, 32)), 0);
  EXPECT_EQ(test::max_diff(eval_view(photo, 32, EvalView::bottom_left), crop_of(resized, 0, 5, 32)), 0);
  EXPECT_EQ(test::max_diff(eval_view(photo, 32, EvalView::bottom_right), crop_of(resized, 17, 5, 32)), 0);
  // A tall photo: 70x130 -> 37 x int(37 * 130 / 70) = 37x68.
  const Image tall = test::random_image(70, 130, 4);
  const Image tall_resized = resize(tall, 37, 68);
  EXPECT_EQ(test::max_diff(eval_view(tall, 32, EvalView::bottom_right), crop_of(tall_resized, 5, 36, 32)), 0);
  EXPECT_EQ(test::max_diff(crop_of(tall_resized, 2, 18, 32), eval_transform(tall, 32)), 0);
}

TEST(Tta, MirroredViewIsTheCentreMirrored) {
  const Image photo = test::random_image(100, 80, 5);
  EXPECT_EQ(test::max_diff(eval_view(photo, 24, EvalView::centre_mirrored), mirrored(eval_transform(photo, 24))), 0);
  // And it differs from the centre (the photo is not symmetric), so the check above can fail.
  EXPECT_GT(test::max_diff(eval_view(photo, 24, EvalView::centre_mirrored), eval_transform(photo, 24)), 0);
}

// A left-right symmetric photo whose resize is the identity (32 px at size 28: round(28 / 0.875) = 32)
// and whose centre crop is centred (offset 2 on each side): its mirrored view is its centre view, so flip
// TTA gives the same probabilities as none (tests/models/test_inference_tta.cpp runs it through a model).
TEST(Tta, SymmetricPhotoMirrorsToItself) {
  Image photo = test::random_image(32, 32, 6);
  for (int y = 0; y < 32; ++y)
    for (int x = 16; x < 32; ++x) std::memcpy(photo.at(x, y), photo.at(31 - x, y), 3);
  const std::vector<Image> views = tta_views(photo, 28, TtaMode::flip);
  ASSERT_EQ(views.size(), 2u);
  EXPECT_EQ(test::max_diff(views[0], views[1]), 0);
}

TEST(Tta, AverageIsTheElementwiseMean) {
  const std::vector<double> mean = average_probabilities({{0.5, 0.25, 0.25}, {0.1, 0.7, 0.2}, {0.0, 0.4, 0.6}});
  ASSERT_EQ(mean.size(), 3u);
  EXPECT_DOUBLE_EQ(mean[0], 0.2);
  EXPECT_DOUBLE_EQ(mean[1], 0.45);
  EXPECT_DOUBLE_EQ(mean[2], 0.35);
  EXPECT_EQ(average_probabilities({{0.3, 0.7}}), (std::vector<double>{0.3, 0.7}));
  EXPECT_THROW(average_probabilities({{0.5, 0.5}, {1.0}}), Error);
  EXPECT_THROW(average_probabilities({}), Error);
}

}  // namespace
}  // namespace aslnet
