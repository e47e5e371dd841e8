// Tests of hand composition: the mask of a synthetic hand (a bright blob on black, with noise, specks and
// holes) is the blob; photos, dim rooms and wrong-sized blobs are refused; composition keeps the foreground's size,
// shows the background wherever the hand is not, and puts the hand's pixels, resized, at the drawn place
// (replayed from the documented draw order); a wrist at the photo's edge stays at that edge; the same seed
// gives the same image; procedural clutter is varied.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "data/compose.h"
#include "data/transforms.h"
#include "tests/data/image_diff.h"

namespace aslnet {
namespace {

Image noise_image(int width, int height, uint64_t seed, int lo = 0, int hi = 255) {
  Rng rng(seed);
  Image image = test::solid_image(width, height, 0, 0, 0);
  for (auto& p : image.pixels) p = uint8_t(lo + int(rng.below(uint64_t(hi - lo + 1))));
  return image;
}

bool in_ellipse(int x, int y, double cx, double cy, double rx, double ry) {
  const double ex = (x + 0.5 - cx) / rx, ey = (y + 0.5 - cy) / ry;
  return ex * ex + ey * ey <= 1.0;
}

// A skin-coloured ellipse (with a little shading) on a background of levels background_lo..background_hi:
// black with JPEG-like noise (0..8, as Massey's photos) by default.
Image blob_on_black(int width, int height, double cx, double cy, double rx, double ry, uint64_t seed,
                    int background_lo = 0, int background_hi = 8) {
  Image image = noise_image(width, height, seed, background_lo, background_hi);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      if (in_ellipse(x, y, cx, cy, rx, ry)) {
        uint8_t* p = image.at(x, y);
        p[0] = uint8_t(170 + (x * 7 + y * 3) % 60);
        p[1] = uint8_t(120 + (x * 3) % 40);
        p[2] = uint8_t(90 + (y * 5) % 40);
      }
  return image;
}

std::vector<uint8_t> ellipse_mask(int width, int height, double cx, double cy, double rx, double ry) {
  std::vector<uint8_t> mask(size_t(width) * height);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) mask[size_t(y) * width + x] = in_ellipse(x, y, cx, cy, rx, ry);
  return mask;
}

TEST(HandMask, SyntheticHandIsItsBlobWithoutSpecksOrSmallHoles) {
  Image image = blob_on_black(120, 100, 60, 50, 30, 38, 1);
  // Specks far from the hand (dust, a hot pixel, a 2x2 reflection) and a dark 3x3 nail inside it.
  std::fill_n(image.at(5, 5), 3, uint8_t(255));
  std::fill_n(image.at(110, 90), 3, uint8_t(200));
  for (int y = 80; y < 82; ++y) std::fill_n(image.at(10, y), 6, uint8_t(180));
  for (int y = 40; y < 43; ++y) std::fill_n(image.at(55, y), 9, uint8_t(5));
  std::vector<uint8_t> mask;
  ASSERT_TRUE(hand_mask(image, 40, mask));
  EXPECT_EQ(mask, ellipse_mask(120, 100, 60, 50, 30, 38));

  // A hole bigger than 1/400 of the image (the background seen through a ring of fingers) stays a hole.
  for (int y = 44; y < 56; ++y) std::fill_n(image.at(54, y), 36, uint8_t(0));
  ASSERT_TRUE(hand_mask(image, 40, mask));
  std::vector<uint8_t> want = ellipse_mask(120, 100, 60, 50, 30, 38);
  for (int y = 44; y < 56; ++y) std::fill_n(&want[size_t(y) * 120 + 54], 12, uint8_t(0));
  EXPECT_EQ(mask, want);

  // A wrist leaving by the bottom edge is still a hand on a dark background.
  Image wrist = blob_on_black(100, 100, 50, 70, 25, 40, 2);
  ASSERT_TRUE(hand_mask(wrist, 40, mask));
  EXPECT_EQ(mask, ellipse_mask(100, 100, 50, 70, 25, 40));
}

TEST(HandMask, RefusesWhatIsNotAHandOnDarkness) {
  std::vector<uint8_t> mask;
  // A photo: a bright, varied scene with no dark border.
  EXPECT_FALSE(hand_mask(noise_image(80, 60, 3, 60, 255), 40, mask));
  EXPECT_FALSE(hand_mask(test::solid_image(80, 60, 200, 180, 170), 40, mask));
  // A dim room: every background pixel dark (under the threshold) but not black.
  EXPECT_FALSE(hand_mask(blob_on_black(100, 100, 50, 50, 20, 30, 7, 0, 35), 40, mask));
  EXPECT_TRUE(hand_mask(blob_on_black(100, 100, 50, 50, 20, 30, 7, 0, 8), 40, mask));
  // Dark all over (nothing above the threshold), or a blob under 1% of the image.
  EXPECT_FALSE(hand_mask(noise_image(80, 60, 4, 0, 15), 40, mask));
  EXPECT_FALSE(hand_mask(blob_on_black(100, 100, 50, 50, 4, 4, 5), 40, mask));
  // A bright square over 90% of the image inside a dark 2-pixel frame: the border is dark, the mask too big.
  Image big = test::solid_image(100, 100, 0, 0, 0);
  for (int y = 2; y < 98; ++y)
    for (int x = 2; x < 98; ++x) std::fill_n(big.at(x, y), 3, uint8_t(200));
  EXPECT_FALSE(hand_mask(big, 40, mask));
  // The same blob passes with the threshold below its colours and fails with it above all of them.
  const Image blob = blob_on_black(100, 100, 50, 50, 20, 30, 6);
  EXPECT_TRUE(hand_mask(blob, 40, mask));
  EXPECT_FALSE(hand_mask(blob, 250, mask));
}

// A textured rectangle "hand" (every pixel far from the blue test backgrounds) on black, and its mask.
struct Hand {
  Image image;
  std::vector<uint8_t> mask;
};
Hand rectangle_hand(int width, int height, int x0, int y0, int w, int h) {
  Hand hand{test::solid_image(width, height, 0, 0, 0), std::vector<uint8_t>(size_t(width) * height, 0)};
  for (int y = y0; y < y0 + h; ++y)
    for (int x = x0; x < x0 + w; ++x) {
      uint8_t* p = hand.image.at(x, y);
      p[0] = uint8_t(150 + (x * 13 + y * 7) % 100);
      p[1] = uint8_t(100 + (x * 5) % 80);
      p[2] = uint8_t((y * 3) % 60);
      hand.mask[size_t(y) * width + x] = 1;
    }
  return hand;
}

// The placement compose_on_background draws, replayed in its documented order for a background of the
// foreground's size with background_scale_min = 1 (so the background box is the whole background).
struct Placement {
  int w, h, x, y;
};
Placement replay_placement(uint64_t seed, int W, int H, int hand_w, int hand_h, const ComposeOptions& o) {
  Rng rng(seed);
  rng.uniform(1.0, 1.0);  // background zoom
  rng.below(1);           // background x, y: the only box that fits
  rng.below(1);
  const double k = rng.uniform(o.scale_min, o.scale_max) * std::min(double(W) / hand_w, double(H) / hand_h);
  const int w = int(std::lround(hand_w * k)), h = int(std::lround(hand_h * k));
  const int x = int(rng.below(uint64_t(W - w + 1)));
  const int y = int(rng.below(uint64_t(H - h + 1)));
  return {w, h, x, y};
}

TEST(Compose, HandScaledAtTheDrawnPlaceAndBackgroundElsewhere) {
  const int W = 100, H = 80;
  const Hand hand = rectangle_hand(W, H, 30, 20, 40, 30);
  const Image background = noise_image(W, H, 7);
  ComposeOptions o;
  o.background_scale_min = 1.0;
  o.feather = 0;
  for (uint64_t seed = 0; seed < 12; ++seed) {
    Rng rng(seed);
    const Image out = compose_on_background(hand.image, hand.mask, background, o, rng);
    ASSERT_EQ(out.width, W);
    ASSERT_EQ(out.height, H);
    const Placement p = replay_placement(seed, W, H, 40, 30, o);
    // The box's longer side (40 along the output's 100) is the drawn fraction of the output side.
    EXPECT_GE(p.w, std::floor(o.scale_min * W));
    EXPECT_LE(p.w, std::ceil(o.scale_max * W));
    const Image pasted = crop_resize(hand.image, 30, 20, 40, 30, p.w, p.h);
    for (int y = 0; y < H; ++y)
      for (int x = 0; x < W; ++x) {
        const bool inside = x >= p.x && x < p.x + p.w && y >= p.y && y < p.y + p.h;
        const uint8_t* want = inside ? pasted.at(x - p.x, y - p.y) : background.at(x, y);
        ASSERT_TRUE(std::equal(want, want + 3, out.at(x, y))) << "seed " << seed << " at " << x << "," << y
                                                              << (inside ? " (hand)" : " (background)");
      }
  }
}

TEST(Compose, BackgroundShowsWhereTheMaskIsZeroAndFeatheringStaysInside) {
  // An elliptical hand: its box's corners are background, its centre is hand.
  const int W = 120, H = 100;
  const Image fg = blob_on_black(W, H, 60, 50, 24, 30, 8);
  const std::vector<uint8_t> mask = ellipse_mask(W, H, 60, 50, 24, 30);
  const Image background = test::solid_image(W, H, 0, 0, 255);
  ComposeOptions o;
  o.background_scale_min = 1.0;
  for (uint64_t seed = 0; seed < 8; ++seed) {
    Rng rng(seed);
    const Image out = compose_on_background(fg, mask, background, o, rng);
    const Placement p = replay_placement(seed, W, H, 48, 60, o);
    int hand_pixels = 0;
    for (int y = 0; y < H; ++y)
      for (int x = 0; x < W; ++x) {
        const uint8_t* px = out.at(x, y);
        const bool blue = px[0] == 0 && px[1] == 0 && px[2] == 255;
        // Outside the ellipse scaled to the placed box (with a pixel's slack for resampling), pure
        // background: no dark fringe, no black rectangle around the hand.
        const double cx = p.x + p.w / 2.0, cy = p.y + p.h / 2.0;
        if (!in_ellipse(x, y, cx, cy, p.w / 2.0 + 1, p.h / 2.0 + 1)) {
          ASSERT_TRUE(blue) << "seed " << seed << " at " << x << "," << y;
        }
        // Deep inside (beyond the feather), pure hand: red-dominant skin, no blue showing through.
        if (in_ellipse(x, y, cx, cy, p.w / 2.0 - o.feather - 2, p.h / 2.0 - o.feather - 2)) {
          ASSERT_GT(px[0], 150) << "seed " << seed << " at " << x << "," << y;
          ASSERT_LT(px[2], 140) << "seed " << seed << " at " << x << "," << y;
          ++hand_pixels;
        }
      }
    EXPECT_GT(hand_pixels, 500);
  }
}

TEST(Compose, WristAtAnEdgeStaysAtThatEdge) {
  const int W = 90, H = 90;
  const Hand hand = rectangle_hand(W, H, 30, 40, 30, 50);  // touches the bottom edge only
  const Image background = test::solid_image(W, H, 0, 0, 255);
  ComposeOptions o;
  o.feather = 0;
  for (uint64_t seed = 0; seed < 8; ++seed) {
    Rng rng(seed);
    const Image out = compose_on_background(hand.image, hand.mask, background, o, rng);
    int bottom = -1, top = H;
    for (int y = 0; y < H; ++y)
      for (int x = 0; x < W; ++x)
        if (out.at(x, y)[2] != 255) bottom = std::max(bottom, y), top = std::min(top, y);
    EXPECT_EQ(bottom, H - 1) << "seed " << seed;
    EXPECT_GT(top, 0) << "seed " << seed;  // at most 0.95 of the side: the top is background
  }
  // Without keep_edges, placement is free: some seed leaves a gap under the hand.
  o.keep_edges = false;
  bool gap = false;
  for (uint64_t seed = 0; seed < 8 && !gap; ++seed) {
    Rng rng(seed);
    const Image out = compose_on_background(hand.image, hand.mask, background, o, rng);
    gap = true;
    for (int x = 0; x < W; ++x) gap = gap && out.at(x, H - 1)[2] == 255;
  }
  EXPECT_TRUE(gap);
}

TEST(Compose, SameSeedSameImageAndBackgroundsCropRandomly) {
  const Image fg = blob_on_black(100, 100, 50, 50, 20, 30, 9);
  std::vector<uint8_t> mask;
  ASSERT_TRUE(hand_mask(fg, 40, mask));
  const Image background = noise_image(300, 200, 10);  // another size and aspect: cropped and resized
  const ComposeOptions o;
  Rng a(5, 1), b(5, 1), c(6, 1);
  const Image ia = compose_on_background(fg, mask, background, o, a);
  EXPECT_EQ(ia.width, 100);
  EXPECT_EQ(ia.height, 100);
  EXPECT_EQ(ia.pixels, compose_on_background(fg, mask, background, o, b).pixels);
  EXPECT_NE(ia.pixels, compose_on_background(fg, mask, background, o, c).pixels);
  EXPECT_EQ(a.next_u64(), b.next_u64());
}

TEST(Compose, BadInputIsAClearError) {
  const Hand hand = rectangle_hand(40, 40, 10, 10, 20, 20);
  const Image background = test::solid_image(40, 40, 0, 0, 255);
  Rng rng(1);
  ComposeOptions o;
  EXPECT_THROW(compose_on_background(hand.image, std::vector<uint8_t>(10, 1), background, o, rng), Error);
  EXPECT_THROW(compose_on_background(hand.image, std::vector<uint8_t>(1600, 0), background, o, rng), Error);
  EXPECT_THROW(compose_on_background(hand.image, hand.mask, Image{}, o, rng), Error);
  o.scale_max = 1.5;
  EXPECT_THROW(compose_on_background(hand.image, hand.mask, background, o, rng), Error);
  o = {};
  o.feather = -1;
  EXPECT_THROW(check_compose_options(o), Error);
  EXPECT_NO_THROW(check_compose_options(ComposeOptions{}));
}

TEST(Clutter, VariedDeterministicAndUsableAsBackground) {
  for (uint64_t seed = 0; seed < 6; ++seed) {
    Rng a(seed), b(seed), c(seed + 100);
    const Image clutter = generated_clutter(96, 80, a);
    ASSERT_EQ(clutter.width, 96);
    ASSERT_EQ(clutter.height, 80);
    EXPECT_EQ(clutter.pixels, generated_clutter(96, 80, b).pixels);
    EXPECT_NE(clutter.pixels, generated_clutter(96, 80, c).pixels);
    // Not uniform: the channels spread, and colours are many (noise alone would give a few hundred around
    // one colour; the gradient and shapes spread them across the cube).
    std::set<int> colours;
    double mean[3] = {0, 0, 0}, var[3] = {0, 0, 0};
    const size_t n = size_t(96) * 80;
    for (size_t i = 0; i < n; ++i) {
      const uint8_t* p = &clutter.pixels[3 * i];
      colours.insert(p[0] << 16 | p[1] << 8 | p[2]);
      for (int k = 0; k < 3; ++k) mean[k] += p[k] / double(n);
    }
    for (size_t i = 0; i < n; ++i)
      for (int k = 0; k < 3; ++k) var[k] += std::pow(clutter.pixels[3 * i + size_t(k)] - mean[k], 2) / double(n);
    EXPECT_GT(std::sqrt(var[0] + var[1] + var[2]), 20.0) << "seed " << seed;
    EXPECT_GT(colours.size(), 1000u) << "seed " << seed;
    // A hand composed onto it.
    const Image fg = blob_on_black(96, 80, 48, 40, 18, 25, seed);
    std::vector<uint8_t> mask;
    ASSERT_TRUE(hand_mask(fg, 40, mask));
    const Image out = compose_on_background(fg, mask, clutter, ComposeOptions{}, a);
    EXPECT_EQ(out.width, 96);
    EXPECT_GT(test::max_diff(out, clutter), 50);
  }
  Rng bad(1);
  EXPECT_THROW(generated_clutter(0, 10, bad), Error);
}

}  // namespace
}  // namespace aslnet
