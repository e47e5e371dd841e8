// Tests of the named augmentation policies: "none" is exactly the evaluation transform and draws nothing,
// "light" is exactly today's defaults, "strong" has the documented values and passes the option checks,
// and an unknown name is an error that lists the known ones.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "data/augment_policy.h"
#include "data/transforms.h"

namespace aslnet {
namespace {

Image gradient_image(int width, int height) {
  Image image;
  image.width = width;
  image.height = height;
  image.pixels.resize(size_t(width) * height * 3);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) {
      uint8_t* p = image.at(x, y);
      p[0] = uint8_t(255 * x / width);
      p[1] = uint8_t(255 * y / height);
      p[2] = uint8_t(((x / 8 + y / 8) % 2) ? 220 : 30);
    }
  return image;
}

TEST(AugmentPolicy, NamesMildestFirstAndEachValid) {
  EXPECT_EQ(augment_policy_names(), (std::vector<std::string>{"none", "light", "strong"}));
  for (const std::string& name : augment_policy_names()) EXPECT_NO_THROW(check_augment_options(augment_policy(name)));
}

TEST(AugmentPolicy, NoneIsTheEvaluationTransformAndDrawsNothing) {
  const AugmentOptions none = augment_policy("none");
  const Image src = gradient_image(170, 130);
  for (uint64_t seed = 0; seed < 5; ++seed) {
    Rng rng(seed), fresh(seed);
    EXPECT_EQ(train_transform(src, 48, none, rng).pixels, eval_transform(src, 48).pixels);
    EXPECT_EQ(rng.next_u64(), fresh.next_u64());
  }
}

TEST(AugmentPolicy, LightIsTodaysDefaults) {
  EXPECT_TRUE(augment_policy("light") == AugmentOptions{});
  const AugmentOptions light = augment_policy("light");
  EXPECT_DOUBLE_EQ(light.crop_scale_min, 0.35);
  EXPECT_DOUBLE_EQ(light.rotation_degrees, 10.0);
  EXPECT_DOUBLE_EQ(light.brightness, 0.2);
  EXPECT_EQ(light.shear_degrees + light.perspective + light.hue + light.grayscale_probability +
                light.blur_probability + light.erase_probability,
            0.0);
}

TEST(AugmentPolicy, StrongHasTheDocumentedValues) {
  const AugmentOptions s = augment_policy("strong");
  EXPECT_TRUE(s.random_resized_crop);
  EXPECT_DOUBLE_EQ(s.crop_scale_min, 0.25);
  EXPECT_DOUBLE_EQ(s.crop_scale_max, 1.0);
  EXPECT_DOUBLE_EQ(s.crop_ratio_min, 3.0 / 4.0);
  EXPECT_DOUBLE_EQ(s.crop_ratio_max, 4.0 / 3.0);
  EXPECT_TRUE(s.flip);
  EXPECT_DOUBLE_EQ(s.rotation_degrees, 15.0);
  EXPECT_DOUBLE_EQ(s.shear_degrees, 10.0);
  EXPECT_DOUBLE_EQ(s.perspective, 0.2);
  EXPECT_DOUBLE_EQ(s.perspective_probability, 0.5);
  EXPECT_DOUBLE_EQ(s.brightness, 0.4);
  EXPECT_DOUBLE_EQ(s.contrast, 0.4);
  EXPECT_DOUBLE_EQ(s.saturation, 0.4);
  EXPECT_DOUBLE_EQ(s.hue, 0.1);
  EXPECT_DOUBLE_EQ(s.grayscale_probability, 0.1);
  EXPECT_DOUBLE_EQ(s.blur_probability, 0.2);
  EXPECT_DOUBLE_EQ(s.blur_sigma_min, 0.1);
  EXPECT_DOUBLE_EQ(s.blur_sigma_max, 2.0);
  EXPECT_DOUBLE_EQ(s.erase_probability, 0.25);
  EXPECT_DOUBLE_EQ(s.erase_scale_min, 0.02);
  EXPECT_DOUBLE_EQ(s.erase_scale_max, 0.33);
  EXPECT_DOUBLE_EQ(s.erase_ratio_min, 0.3);
  EXPECT_DOUBLE_EQ(s.erase_ratio_max, 3.3);
  // It augments more than light: the same seed gives another image.
  const Image src = gradient_image(160, 160);
  Rng a(7), b(7);
  EXPECT_NE(train_transform(src, 48, s, a).pixels, train_transform(src, 48, augment_policy("light"), b).pixels);
}

TEST(AugmentPolicy, UnknownNameListsTheKnownOnes) {
  try {
    augment_policy("heavy");
    FAIL() << "no error for an unknown policy";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("'heavy'"), std::string::npos) << what;
    EXPECT_NE(what.find("none, light, strong"), std::string::npos) << what;
  }
}

}  // namespace
}  // namespace aslnet
