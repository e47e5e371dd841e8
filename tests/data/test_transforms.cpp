// Tests of the image transforms: the resize against Pillow's BILINEAR resize and the evaluation / random
// resized crop paths against torchvision's functions on PIL images (what a PyTorch user's pipeline
// computes), then the augmentation contract: same seed same image, every switch off gives the plain path,
// flip mirrors exactly, jitter at factor 1 is the identity, rotation turns counter-clockwise about the
// centre, and normalisation's values in each dtype. The augmentations added later (shear, perspective, hue,
// grayscale, blur, erasing) are each checked against a direct definition: identity parameters give the
// rotation-only output, dots land where the textbook matrices send them, hue against the textbook HSV
// formulas, blur against a plain 2-D convolution, erasing's box against RandomErasing's bounds.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "data/jpeg.h"
#include "data/transforms.h"
#include "tests/data/image_diff.h"
#include "tests/test_util.h"

namespace aslnet {
namespace {

namespace fs = std::filesystem;

Image random_image(int width, int height, uint64_t seed) {
  Rng rng(seed);
  Image image;
  image.width = width;
  image.height = height;
  image.pixels.resize(size_t(width) * height * 3);
  for (auto& p : image.pixels) p = uint8_t(rng.below(256));
  return image;
}

// Smooth content with structure (so crops, flips and rotations are all visible) plus a little noise.
Image structured_image(int width, int height, uint64_t seed) {
  Rng rng(seed);
  Image image;
  image.width = width;
  image.height = height;
  image.pixels.resize(size_t(width) * height * 3);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) {
      uint8_t* p = image.at(x, y);
      p[0] = uint8_t(std::clamp(255.0 * x / width + rng.uniform(-8, 8), 0.0, 255.0));
      p[1] = uint8_t(std::clamp(127.0 + 120.0 * std::sin(y * 0.11), 0.0, 255.0));
      p[2] = uint8_t((x / 16 + y / 16) % 2 ? 200 : 40);
    }
  return image;
}

Image crop(const Image& src, int x0, int y0, int w, int h) {
  Image out;
  out.width = w;
  out.height = h;
  out.pixels.resize(size_t(w) * h * 3);
  for (int y = 0; y < h; ++y) std::copy_n(src.at(x0, y0 + y), size_t(w) * 3, out.at(0, y));
  return out;
}

Image mirrored(const Image& src) {
  Image out = src;
  for (int y = 0; y < src.height; ++y)
    for (int x = 0; x < src.width; ++x) std::copy_n(src.at(src.width - 1 - x, y), 3, out.at(x, y));
  return out;
}

bool python_can(const std::string& module) {
  return std::system(("/usr/bin/python3 -c 'import " + module + "' >/dev/null 2>&1").c_str()) == 0;
}

// Runs Python expressions over `im` (each input as a PIL RGB image) in one interpreter and returns the
// resulting images. `prelude` holds imports.
std::vector<Image> run_python(const std::string& prelude, const std::vector<std::pair<Image, std::string>>& jobs) {
  test::TempDir dir("aslnet_transforms");
  EXPECT_FALSE(dir.path.empty());
  std::ostringstream script;
  script << "import PIL.Image as I\n" << prelude << "\n"
         << "def load(p, w, h): return I.frombytes('RGB', (w, h), open(p, 'rb').read())\n"
         << "def save(im, p):\n"
         << "    open(p, 'wb').write(im.tobytes())\n"
         << "    open(p + '.size', 'w').write('%d %d' % im.size)\n";
  for (size_t i = 0; i < jobs.size(); ++i) {
    const auto& [image, expr] = jobs[i];
    const std::string in = (dir.path / ("in" + std::to_string(i))).string();
    std::ofstream(in, std::ios::binary)
        .write(reinterpret_cast<const char*>(image.pixels.data()), std::streamsize(image.pixels.size()));
    script << "im = load('" << in << "', " << image.width << ", " << image.height << ")\n"
           << "save(" << expr << ", '" << (dir.path / ("out" + std::to_string(i))).string() << "')\n";
  }
  const std::string script_path = (dir.path / "run.py").string();
  std::ofstream(script_path) << script.str();
  std::vector<Image> out;
  if (std::system(("/usr/bin/python3 '" + script_path + "'").c_str()) != 0) {
    ADD_FAILURE() << "python failed on:\n" << script.str();
    return out;
  }
  for (size_t i = 0; i < jobs.size(); ++i) {
    const std::string path = (dir.path / ("out" + std::to_string(i))).string();
    Image image;
    std::ifstream(path + ".size") >> image.width >> image.height;
    image.pixels = read_file_bytes(path);
    out.push_back(std::move(image));
  }
  return out;
}

TEST(TransformResize, MatchesPillowBilinear) {
  if (!python_can("PIL.Image")) ASLNET_SKIP_OR_FAIL("ASLNET_REQUIRE_TORCH", "/usr/bin/python3 cannot import PIL");
  struct Case {
    int in_w, in_h, out_w, out_h;
  };
  const std::vector<Case> cases = {{200, 200, 64, 64},  {200, 150, 73, 55}, {100, 100, 73, 73}, {37, 50, 80, 64},
                                   {100, 100, 100, 50}, {64, 64, 50, 64},   {31, 17, 7, 3},     {200, 200, 200, 200}};
  std::vector<std::pair<Image, std::string>> jobs;
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    jobs.emplace_back(random_image(c.in_w, c.in_h, 100 + i),
                      "im.resize((" + std::to_string(c.out_w) + ", " + std::to_string(c.out_h) + "), I.BILINEAR)");
  }
  const std::vector<Image> pil = run_python("", jobs);
  ASSERT_EQ(pil.size(), cases.size());
  for (size_t i = 0; i < cases.size(); ++i) {
    const Image ours = resize(jobs[i].first, cases[i].out_w, cases[i].out_h);
    ASSERT_EQ(ours.width, cases[i].out_w);
    ASSERT_EQ(ours.height, cases[i].out_h);
    EXPECT_LE(test::max_diff(ours, pil[i]), 1)
        << cases[i].in_w << "x" << cases[i].in_h << " -> " << cases[i].out_w << "x" << cases[i].out_h;
  }
}

TEST(TransformResize, ShrinkingAveragesAndConstantsStayConstant) {
  // A 1-pixel checkerboard shrunk 4x is flat grey (antialiasing), not a sample of black or white pixels.
  Image board = test::solid_image(64, 64, 0, 0, 0);
  for (int y = 0; y < 64; ++y)
    for (int x = 0; x < 64; ++x)
      if ((x + y) % 2) std::fill_n(board.at(x, y), 3, uint8_t(255));
  const Image small = resize(board, 16, 16);
  for (int y = 1; y < 15; ++y)
    for (int x = 1; x < 15; ++x) EXPECT_NEAR(small.at(x, y)[0], 128, 2) << x << "," << y;
  const Image flat = test::solid_image(90, 70, 10, 200, 255);
  EXPECT_EQ(test::max_diff(resize(flat, 33, 41), test::solid_image(33, 41, 10, 200, 255)), 0);
  EXPECT_EQ(test::max_diff(resize(flat, 150, 170), test::solid_image(150, 170, 10, 200, 255)), 0);
  const Image noise = random_image(20, 30, 5);
  EXPECT_EQ(resize(noise, 20, 30).pixels, noise.pixels);
}

TEST(TransformEval, ShorterSideToSizeOver0875ThenCentreCrop) {
  // 200x200 -> 73x73 (64 / 0.875 = 73.1), crop at round(4.5) = 4 (Python rounds half to even).
  const Image square = structured_image(200, 200, 1);
  Image out = eval_transform(square, 64);
  ASSERT_EQ(out.width, 64);
  ASSERT_EQ(out.height, 64);
  EXPECT_EQ(out.pixels, crop(resize(square, 73, 73), 4, 4, 64, 64).pixels);
  // 300x200 -> int(73 * 300 / 200) = 109 x 73; crop at (round(22.5), round(4.5)) = (22, 4).
  const Image wide = structured_image(300, 200, 2);
  out = eval_transform(wide, 64);
  EXPECT_EQ(out.pixels, crop(resize(wide, 109, 73), 22, 4, 64, 64).pixels);
  // Smaller than the output: upscaled first. 224 -> 256 exactly.
  const Image tiny = structured_image(32, 32, 3);
  out = eval_transform(tiny, 64);
  EXPECT_EQ(out.pixels, crop(resize(tiny, 73, 73), 4, 4, 64, 64).pixels);
  EXPECT_EQ(eval_transform(square, 224).pixels, crop(resize(square, 256, 256), 16, 16, 224, 224).pixels);
}

// The random resized crop's box, replayed from the same Rng draws in torchvision's get_params order.
struct Box {
  int x, y, w, h;
};
Box replay_crop_box(uint64_t seed, int width, int height, const AugmentOptions& o) {
  Rng rng(seed);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target = double(width) * height * rng.uniform(o.crop_scale_min, o.crop_scale_max);
    const double ratio = std::exp(rng.uniform(std::log(o.crop_ratio_min), std::log(o.crop_ratio_max)));
    const int w = int(std::nearbyint(std::sqrt(target * ratio)));
    const int h = int(std::nearbyint(std::sqrt(target / ratio)));
    if (w < 1 || w > width || h < 1 || h > height) continue;
    const int y = int(rng.below(uint64_t(height - h + 1)));
    const int x = int(rng.below(uint64_t(width - w + 1)));
    return {x, y, w, h};
  }
  ADD_FAILURE() << "no attempt fitted: use another seed";
  return {0, 0, width, height};
}

AugmentOptions crop_only() {
  AugmentOptions o;
  o.flip = false;
  o.brightness = o.contrast = o.saturation = 0;
  o.rotation_degrees = 0;
  return o;
}

TEST(TransformTorchvision, EvalAndResizedCropMatchTorchvisionOnPil) {
  if (!python_can("torchvision")) {
    ASLNET_SKIP_OR_FAIL("ASLNET_REQUIRE_TORCH", "/usr/bin/python3 cannot import torchvision");
  }
  std::vector<std::pair<Image, std::string>> jobs;
  std::vector<Image> ours;
  for (const auto& [w, h, size] : std::vector<std::tuple<int, int, int>>{{200, 200, 64}, {300, 200, 64},
                                                                          {150, 260, 32}, {100, 100, 128}}) {
    const Image src = random_image(w, h, uint64_t(w * 1000 + h));
    jobs.emplace_back(src, "F.center_crop(F.resize(im, " + std::to_string(int(std::lround(size / 0.875))) + "), " +
                               std::to_string(size) + ")");
    ours.push_back(eval_transform(src, size));
  }
  const AugmentOptions o = crop_only();
  for (uint64_t seed = 1; seed <= 4; ++seed) {
    const Image src = random_image(200, 160, seed);
    const Box b = replay_crop_box(seed, 200, 160, o);
    Rng rng(seed);
    ours.push_back(train_transform(src, 64, o, rng));
    jobs.emplace_back(src, "F.resized_crop(im, " + std::to_string(b.y) + ", " + std::to_string(b.x) + ", " +
                               std::to_string(b.h) + ", " + std::to_string(b.w) + ", [64, 64])");
  }
  const std::vector<Image> reference = run_python("import torchvision.transforms.functional as F", jobs);
  ASSERT_EQ(reference.size(), ours.size());
  for (size_t i = 0; i < ours.size(); ++i) EXPECT_LE(test::max_diff(ours[i], reference[i]), 1) << jobs[i].second;
}

TEST(TransformTrain, RandomResizedCropIsCropThenResize) {
  const AugmentOptions o = crop_only();
  const Image src = structured_image(200, 180, 4);
  for (uint64_t seed = 10; seed < 20; ++seed) {
    const Box b = replay_crop_box(seed, src.width, src.height, o);
    EXPECT_GE(double(b.w) * b.h, 0.3 * src.width * src.height);
    Rng rng(seed);
    const Image out = train_transform(src, 48, o, rng);
    EXPECT_EQ(out.pixels, resize(crop(src, b.x, b.y, b.w, b.h), 48, 48).pixels) << "seed " << seed;
  }
  // Scale and ratio pinned to 1 on a square image: the whole image.
  AugmentOptions whole = o;
  whole.crop_scale_min = whole.crop_ratio_min = whole.crop_ratio_max = 1.0;
  const Image square = structured_image(120, 120, 5);
  Rng rng(3);
  EXPECT_EQ(train_transform(square, 40, whole, rng).pixels, resize(square, 40, 40).pixels);
  // No attempt can fit (ratio 10 on a square image): the fallback centre crop at the clamped ratio.
  AugmentOptions skinny = o;
  skinny.crop_ratio_min = skinny.crop_ratio_max = 10.0;
  skinny.crop_scale_min = 0.9;
  EXPECT_EQ(train_transform(square, 40, skinny, rng).pixels, resize(crop(square, 0, 54, 120, 12), 40, 40).pixels);
}

TEST(TransformTrain, SameSeedSameImageOtherSeedOtherImage) {
  const Image src = structured_image(200, 200, 6);
  const AugmentOptions o;  // everything on
  Rng a(42, 7), b(42, 7), c(43, 7);
  const Image ia = train_transform(src, 64, o, a);
  const Image ib = train_transform(src, 64, o, b);
  const Image ic = train_transform(src, 64, o, c);
  EXPECT_EQ(ia.width, 64);
  EXPECT_EQ(ia.height, 64);
  EXPECT_EQ(ia.pixels, ib.pixels);
  EXPECT_NE(ia.pixels, ic.pixels);
  // The Rng advanced identically too: the next samples agree as well.
  EXPECT_EQ(train_transform(src, 64, o, a).pixels, train_transform(src, 64, o, b).pixels);
}

TEST(TransformTrain, EverythingOffIsEvalTransform) {
  AugmentOptions off = crop_only();
  off.random_resized_crop = false;
  for (const auto& [w, h] : std::vector<std::pair<int, int>>{{200, 200}, {240, 180}, {50, 70}}) {
    const Image src = structured_image(w, h, 7);
    Rng rng(1);
    EXPECT_EQ(train_transform(src, 64, off, rng).pixels, eval_transform(src, 64).pixels) << w << "x" << h;
  }
}

TEST(TransformTrain, FlipMirrorsExactlyAboutHalfTheTime) {
  AugmentOptions o = crop_only();
  o.random_resized_crop = false;
  o.flip = true;
  const Image src = structured_image(200, 200, 8);
  const Image plain = eval_transform(src, 64);
  const Image flipped = mirrored(plain);
  ASSERT_NE(plain.pixels, flipped.pixels);
  int flips = 0;
  for (uint64_t seed = 0; seed < 200; ++seed) {
    Rng replay(seed);
    const bool expect_flip = replay.uniform() < 0.5;
    Rng rng(seed);
    const Image out = train_transform(src, 64, o, rng);
    EXPECT_EQ(out.pixels, expect_flip ? flipped.pixels : plain.pixels) << "seed " << seed;
    flips += expect_flip;
  }
  EXPECT_GT(flips, 70);
  EXPECT_LT(flips, 130);
  // Odd widths mirror about the middle column too.
  AugmentOptions odd_options = o;
  odd_options.rotation_degrees = 0;
  const Image odd = structured_image(5, 3, 9);
  const Image odd_plain = eval_transform(odd, 5);
  for (uint64_t seed = 0; seed < 4; ++seed) {
    Rng replay(seed), rng(seed);
    const Image out = train_transform(odd, 5, odd_options, rng);
    EXPECT_EQ(out.pixels, replay.uniform() < 0.5 ? mirrored(odd_plain).pixels : odd_plain.pixels);
  }
}

TEST(TransformTrain, ColorJitterIsIdentityAtFactorOneAndBlendsAsTorchvision) {
  AugmentOptions o = crop_only();
  o.random_resized_crop = false;
  const Image src = structured_image(160, 160, 10);
  const Image plain = eval_transform(src, 64);
  // Factors within 1e-12 of 1: every pixel comes back unchanged.
  o.brightness = o.contrast = o.saturation = 1e-12;
  Rng rng(5);
  EXPECT_EQ(train_transform(src, 64, o, rng).pixels, plain.pixels);

  // Brightness alone scales every value by one factor (the replayed draw), clamped and rounded.
  AugmentOptions bright = crop_only();
  bright.random_resized_crop = false;
  bright.brightness = 0.5;
  for (uint64_t seed = 0; seed < 5; ++seed) {
    Rng replay(seed);
    const double f = replay.uniform(0.5, 1.5);
    Rng r(seed);
    const Image out = train_transform(src, 64, bright, r);
    for (size_t i = 0; i < out.pixels.size(); ++i)
      ASSERT_NEAR(out.pixels[i], std::min(255.0, plain.pixels[i] * f), 0.51) << "seed " << seed << " at " << i;
  }
  // Saturation leaves grey pixels grey; contrast leaves a flat image flat; both move a colourful image.
  AugmentOptions sat = crop_only();
  sat.random_resized_crop = false;
  sat.saturation = 0.9;
  const Image grey = test::solid_image(100, 100, 90, 90, 90);
  AugmentOptions con = sat;
  con.saturation = 0;
  con.contrast = 0.9;
  for (uint64_t seed = 0; seed < 5; ++seed) {
    Rng r1(seed), r2(seed), r3(seed), r4(seed);
    EXPECT_EQ(test::max_diff(train_transform(grey, 32, sat, r1), test::solid_image(32, 32, 90, 90, 90)), 0);
    EXPECT_EQ(test::max_diff(train_transform(grey, 32, con, r2), test::solid_image(32, 32, 90, 90, 90)), 0);
    EXPECT_GT(test::max_diff(train_transform(src, 64, sat, r3), plain), 2);
    EXPECT_GT(test::max_diff(train_transform(src, 64, con, r4), plain), 2);
  }
  // Contrast on a flat colour: every channel moves toward the image's mean grey, by the drawn factor.
  const Image flat = test::solid_image(100, 100, 30, 140, 250);
  const double mean_grey = 0.299 * 30 + 0.587 * 140 + 0.114 * 250;
  for (uint64_t seed = 0; seed < 5; ++seed) {
    Rng replay(seed);
    const double f = replay.uniform(0.1, 1.9);
    Rng r(seed);
    const Image out = train_transform(flat, 16, con, r);
    const double want[3] = {30 * f + mean_grey * (1 - f), 140 * f + mean_grey * (1 - f), 250 * f + mean_grey * (1 - f)};
    for (int k = 0; k < 3; ++k) EXPECT_NEAR(out.at(5, 5)[k], std::clamp(want[k], 0.0, 255.0), 0.51) << seed;
  }
}

TEST(TransformTrain, RotationTurnsCounterClockwiseAboutTheCentre) {
  AugmentOptions o = crop_only();
  o.random_resized_crop = false;
  o.rotation_degrees = 40;
  // A constant image stays constant (edges repeat: no black corners).
  const Image flat = test::solid_image(120, 90, 60, 120, 180);
  Rng r0(1);
  EXPECT_EQ(test::max_diff(train_transform(flat, 48, o, r0), test::solid_image(48, 48, 60, 120, 180)), 0);

  // A bright dot right of centre moves up for a positive angle (counter-clockwise, torchvision's sign).
  Image dot = test::solid_image(200, 200, 0, 0, 0);
  for (int y = 96; y < 104; ++y)
    for (int x = 156; x < 164; ++x) std::fill_n(dot.at(x, y), 3, uint8_t(255));
  for (uint64_t seed = 0; seed < 6; ++seed) {
    Rng replay(seed);
    const double degrees = replay.uniform(-40, 40);
    Rng rng(seed);
    const Image out = train_transform(dot, 64, o, rng);
    double sx = 0, sy = 0, total = 0;
    for (int y = 0; y < 64; ++y)
      for (int x = 0; x < 64; ++x) {
        const double v = out.at(x, y)[0];
        sx += v * x;
        sy += v * y;
        total += v;
      }
    ASSERT_GT(total, 0);
    // Expected: centre (100, 100) + 60 px at the angle, mapped through the 200 -> 73 resize and the crop at 4.
    const double rad = degrees * M_PI / 180.0, k = 73.0 / 200.0;
    const double ex = (100 + 60 * std::cos(rad)) * k - 4 - 0.5, ey = (100 - 60 * std::sin(rad)) * k - 4 - 0.5;
    EXPECT_NEAR(sx / total, ex, 0.6) << "angle " << degrees;
    EXPECT_NEAR(sy / total, ey, 0.6) << "angle " << degrees;
  }
  // A near-zero angle is the plain path, to within a rounding step.
  o.rotation_degrees = 1e-9;
  const Image src = structured_image(200, 200, 11);
  Rng r1(2);
  EXPECT_LE(test::max_diff(train_transform(src, 64, o, r1), eval_transform(src, 64)), 1);
}

// ---- Augmentations added after rotation ------------------------------------------------------------------

// Everything but the one augmentation under test off, on the evaluation path (no random crop), so that the
// only draws are that augmentation's.
AugmentOptions nothing_on() {
  AugmentOptions o = crop_only();
  o.random_resized_crop = false;
  return o;
}

TEST(TransformWarp, IdentityShearAndPerspectiveGiveTheRotationOnlyOutput) {
  const Image src = structured_image(210, 170, 20);
  for (const bool crop : {true, false}) {
    AugmentOptions rotate = crop_only();
    rotate.random_resized_crop = crop;
    rotate.rotation_degrees = 30;
    AugmentOptions shear = rotate, perspective = rotate;
    shear.shear_degrees = 1e-12;  // draws two shears, both ~0
    perspective.perspective = 1e-12;
    perspective.perspective_probability = 1.0;  // the projective path, corners moved by ~0
    for (uint64_t seed = 0; seed < 8; ++seed) {
      Rng a(seed), b(seed), c(seed);
      const Image plain = train_transform(src, 64, rotate, a);
      EXPECT_EQ(train_transform(src, 64, shear, b).pixels, plain.pixels) << "seed " << seed << " crop " << crop;
      EXPECT_LE(test::max_diff(train_transform(src, 64, perspective, c), plain), 1) << "seed " << seed;
    }
  }
  // A perspective that is on but never applied (probability 0) draws nothing: output and Rng as without it.
  AugmentOptions never = AugmentOptions{};
  never.perspective = 0.3;
  never.perspective_probability = 0.0;
  Rng a(3), b(3);
  EXPECT_EQ(train_transform(src, 64, never, a).pixels, train_transform(src, 64, AugmentOptions{}, b).pixels);
  EXPECT_EQ(a.next_u64(), b.next_u64());
}

// The intensity-weighted centroid of channel k within [x0, x1) x [y0, y1), in pixel-index coordinates.
std::pair<double, double> centroid(const Image& image, int k, int x0, int y0, int x1, int y1) {
  double sx = 0, sy = 0, total = 0;
  for (int y = y0; y < y1; ++y)
    for (int x = x0; x < x1; ++x) {
      const double v = image.at(x, y)[k];
      sx += v * x;
      sy += v * y;
      total += v;
    }
  EXPECT_GT(total, 0);
  return {sx / total, sy / total};
}

// A black 200x200 image with white 8x8 dots centred at the given continuous coordinates (multiples of 1).
Image dots(const std::vector<std::pair<int, int>>& centres) {
  Image image = test::solid_image(200, 200, 0, 0, 0);
  for (const auto& [cx, cy] : centres)
    for (int y = cy - 4; y < cy + 4; ++y)
      for (int x = cx - 4; x < cx + 4; ++x) std::fill_n(image.at(x, y), 3, uint8_t(255));
  return image;
}

// Continuous coordinate c of the 200x200 warped image -> pixel index in eval_transform's 64x64 output
// (resize to 73, crop at 4).
double eval_index(double c) { return c * 73.0 / 200.0 - 4 - 0.5; }

TEST(TransformWarp, ShearSendsADotThroughTheInverseShearMatrix) {
  AugmentOptions o = nothing_on();
  o.shear_degrees = 20;
  const Image dot = dots({{160, 130}});  // offset (60, 30) from the centre
  for (uint64_t seed = 0; seed < 6; ++seed) {
    Rng replay(seed);
    const double tx = std::tan(replay.uniform(-20, 20) * M_PI / 180), ty = std::tan(replay.uniform(-20, 20) * M_PI / 180);
    // Sampling takes output offsets through [[1, tx], [ty, 1 + tx ty]] (determinant 1); the dot appears
    // where that matrix sends it back from, its inverse [[1 + tx ty, -tx], [-ty, 1]] applied to (60, 30).
    const double ox = (1 + tx * ty) * 60 - tx * 30, oy = -ty * 60 + 30;
    Rng rng(seed);
    const auto [x, y] = centroid(train_transform(dot, 64, o, rng), 0, 0, 0, 64, 64);
    EXPECT_NEAR(x, eval_index(100 + ox), 0.6) << "seed " << seed;
    EXPECT_NEAR(y, eval_index(100 + oy), 0.6) << "seed " << seed;
  }
}

// Heckbert's closed-form projective map of the unit square onto the quad q (corners in the order (0,0),
// (1,0), (1,1), (0,1)): a different derivation from the library's linear solve.
std::pair<double, double> square_to_quad(const double q[4][2], double u, double v) {
  const double dx1 = q[1][0] - q[2][0], dx2 = q[3][0] - q[2][0], dx3 = q[0][0] - q[1][0] + q[2][0] - q[3][0];
  const double dy1 = q[1][1] - q[2][1], dy2 = q[3][1] - q[2][1], dy3 = q[0][1] - q[1][1] + q[2][1] - q[3][1];
  const double den = dx1 * dy2 - dx2 * dy1;
  const double g = (dx3 * dy2 - dx2 * dy3) / den, h = (dx1 * dy3 - dx3 * dy1) / den;
  const double a = q[1][0] - q[0][0] + g * q[1][0], b = q[3][0] - q[0][0] + h * q[3][0], c = q[0][0];
  const double d = q[1][1] - q[0][1] + g * q[1][1], e = q[3][1] - q[0][1] + h * q[3][1], f = q[0][1];
  const double w = g * u + h * v + 1;
  return {(a * u + b * v + c) / w, (d * u + e * v + f) / w};
}

TEST(TransformWarp, PerspectiveMovesTheCornersInwardAsRandomPerspective) {
  AugmentOptions o = nothing_on();
  o.perspective = 0.5;
  o.perspective_probability = 1.0;
  // One dot near each corner, offset (+-70, +-70) from the centre; each stays in its quadrant.
  const std::vector<std::pair<int, int>> centres = {{30, 30}, {170, 30}, {170, 170}, {30, 170}};
  const Image image = dots(centres);
  for (uint64_t seed = 0; seed < 6; ++seed) {
    // The replayed draws: the coin, then each corner's inward move in [0, 0.5 * 100] along x then y.
    Rng replay(seed);
    replay.uniform();
    const double inward[4][2] = {{1, 1}, {-1, 1}, {-1, -1}, {1, -1}};
    const double corner[4][2] = {{0, 0}, {200, 0}, {200, 200}, {0, 200}};
    double quad[4][2];
    for (int i = 0; i < 4; ++i)
      for (int k = 0; k < 2; ++k) quad[i][k] = corner[i][k] + inward[i][k] * replay.uniform(0.0, 50.0);
    Rng rng(seed);
    const Image out = train_transform(image, 64, o, rng);
    for (const auto& [cx, cy] : centres) {
      // The image's corners go to the moved corners: so does everything in between, projectively.
      const auto [ex, ey] = square_to_quad(quad, cx / 200.0, cy / 200.0);
      const int x0 = cx < 100 ? 0 : 32, y0 = cy < 100 ? 0 : 32;
      const auto [x, y] = centroid(out, 0, x0, y0, x0 + 32, y0 + 32);
      EXPECT_NEAR(x, eval_index(ex), 0.6) << "seed " << seed << " dot " << cx << "," << cy;
      EXPECT_NEAR(y, eval_index(ey), 0.6) << "seed " << seed << " dot " << cx << "," << cy;
    }
  }
  // A flat image stays flat however strong the distortion (edges repeat, no black wedges), even at scale 1.
  o.perspective = 1.0;
  const Image flat = test::solid_image(90, 120, 60, 120, 180);
  for (uint64_t seed = 0; seed < 10; ++seed) {
    Rng rng(seed);
    EXPECT_EQ(test::max_diff(train_transform(flat, 48, o, rng), test::solid_image(48, 48, 60, 120, 180)), 0);
  }
}

// The textbook HSV round trip (Wikipedia's chroma formulas, hue in degrees), in double.
std::array<double, 3> hue_shifted_reference(const uint8_t* rgb, double shift_turns) {
  const double r = rgb[0] / 255.0, g = rgb[1] / 255.0, b = rgb[2] / 255.0;
  const double v = std::max({r, g, b}), c = v - std::min({r, g, b});
  if (c == 0) return {double(rgb[0]), double(rgb[1]), double(rgb[2])};
  double h = v == r ? std::fmod((g - b) / c + 6.0, 6.0) : v == g ? (b - r) / c + 2.0 : (r - g) / c + 4.0;
  h = std::fmod(h * 60.0 + shift_turns * 360.0 + 720.0, 360.0) / 60.0;
  const double x = c * (1 - std::abs(std::fmod(h, 2.0) - 1)), m = v - c;
  std::array<double, 3> out{};
  switch (int(h)) {
    case 0: out = {c, x, 0}; break;
    case 1: out = {x, c, 0}; break;
    case 2: out = {0, c, x}; break;
    case 3: out = {0, x, c}; break;
    case 4: out = {x, 0, c}; break;
    default: out = {c, 0, x}; break;
  }
  for (auto& o : out) o = (o + m) * 255.0;
  return out;
}

TEST(TransformHue, ShiftMatchesTextbookHsvAndKnownColours) {
  const Image src = random_image(40, 30, 21);
  for (const double shift : {-0.5, -0.31, -0.1, 0.0, 0.04, 0.25, 0.5}) {
    Image out = src;
    adjust_hue(out, shift);
    for (int i = 0; i < 40 * 30; ++i) {
      const auto want = hue_shifted_reference(&src.pixels[size_t(i) * 3], shift);
      for (int k = 0; k < 3; ++k)
        ASSERT_NEAR(out.pixels[size_t(i) * 3 + size_t(k)], want[size_t(k)], 0.51) << "shift " << shift << " at " << i;
    }
  }
  // A third of a turn takes red to green and green to blue; a grey has no hue to turn.
  Image red = test::solid_image(2, 2, 255, 0, 0), green = test::solid_image(2, 2, 0, 200, 0);
  Image grey = test::solid_image(2, 2, 77, 77, 77);
  adjust_hue(red, 1.0 / 3);
  adjust_hue(green, 1.0 / 3);
  adjust_hue(grey, 0.2);
  EXPECT_EQ(red.pixels, test::solid_image(2, 2, 0, 255, 0).pixels);
  EXPECT_EQ(green.pixels, test::solid_image(2, 2, 0, 0, 200).pixels);
  EXPECT_EQ(grey.pixels, test::solid_image(2, 2, 77, 77, 77).pixels);
  EXPECT_THROW(adjust_hue(grey, 0.6), Error);

  // In the pipeline: after the other jitters, by a shift drawn uniform in [-hue, hue].
  AugmentOptions o = nothing_on();
  o.hue = 0.3;
  const Image photo = structured_image(150, 150, 22);
  for (uint64_t seed = 0; seed < 5; ++seed) {
    Rng replay(seed), rng(seed);
    Image want = eval_transform(photo, 48);
    adjust_hue(want, replay.uniform(-0.3, 0.3));
    EXPECT_EQ(train_transform(photo, 48, o, rng).pixels, want.pixels) << "seed " << seed;
  }
}

TEST(TransformGrayscale, EveryChannelIsTheLumaWithTheGivenProbability) {
  const Image src = random_image(32, 32, 23);
  Image grey = src;
  to_grayscale(grey);
  for (int i = 0; i < 32 * 32; ++i) {
    const uint8_t* s = &src.pixels[size_t(i) * 3];
    const uint8_t* g = &grey.pixels[size_t(i) * 3];
    EXPECT_EQ(g[0], g[1]);
    EXPECT_EQ(g[0], g[2]);
    EXPECT_NEAR(g[0], 0.299 * s[0] + 0.587 * s[1] + 0.114 * s[2], 0.51) << i;
  }
  AugmentOptions o = nothing_on();
  o.grayscale_probability = 0.3;
  const Image photo = structured_image(120, 120, 24);
  const Image plain = eval_transform(photo, 32);
  Image plain_grey = plain;
  to_grayscale(plain_grey);
  int greyed = 0;
  for (uint64_t seed = 0; seed < 300; ++seed) {
    Rng replay(seed), rng(seed);
    const bool expect = replay.uniform() < 0.3;
    EXPECT_EQ(train_transform(photo, 32, o, rng).pixels, expect ? plain_grey.pixels : plain.pixels) << seed;
    greyed += expect;
  }
  EXPECT_GT(greyed, 60);
  EXPECT_LT(greyed, 120);
}

// The blur's definition: a 2-D sum over the clipped, normalised Gaussian, edge pixels repeating, in double.
Image blur_reference(const Image& src, double sigma) {
  auto kernel = [&](int side) {
    const int r = std::min(int(std::ceil(3 * sigma)), side - 1);
    std::vector<double> k;
    double total = 0;
    for (int i = -r; i <= r; ++i) total += std::exp(-i * i / (2 * sigma * sigma));
    for (int i = -r; i <= r; ++i) k.push_back(std::exp(-i * i / (2 * sigma * sigma)) / total);
    return k;
  };
  const std::vector<double> kx = kernel(src.width), ky = kernel(src.height);
  const int rx = int(kx.size() / 2), ry = int(ky.size() / 2);
  Image out = src;
  for (int y = 0; y < src.height; ++y)
    for (int x = 0; x < src.width; ++x)
      for (int c = 0; c < 3; ++c) {
        double sum = 0;
        for (int j = -ry; j <= ry; ++j)
          for (int i = -rx; i <= rx; ++i)
            sum += kx[size_t(i + rx)] * ky[size_t(j + ry)] *
                   src.at(std::clamp(x + i, 0, src.width - 1), std::clamp(y + j, 0, src.height - 1))[c];
        out.at(x, y)[c] = uint8_t(std::lround(sum));
      }
  return out;
}

TEST(TransformBlur, MatchesTheDirectConvolution) {
  // A constant stays constant, even when the radius is clipped by a tiny image.
  for (const double sigma : {0.1, 0.8, 2.0, 5.0}) {
    Image flat = test::solid_image(5, 7, 13, 128, 250);
    gaussian_blur(flat, sigma);
    EXPECT_EQ(flat.pixels, test::solid_image(5, 7, 13, 128, 250).pixels) << sigma;
  }
  // A delta becomes the normalised Gaussian: 255 * k(dx) * k(dy), symmetric, summing to 255.
  const double sigma = 1.5;
  Image delta = test::solid_image(21, 21, 0, 0, 0);
  std::fill_n(delta.at(10, 10), 3, uint8_t(255));
  const Image spread = [&] { Image d = delta; gaussian_blur(d, sigma); return d; }();
  double total_weight = 0;
  for (int i = -5; i <= 5; ++i) total_weight += std::exp(-i * i / (2 * sigma * sigma));
  double sum = 0;
  for (int y = 0; y < 21; ++y)
    for (int x = 0; x < 21; ++x) {
      const int dx = x - 10, dy = y - 10;
      const double want = std::abs(dx) <= 5 && std::abs(dy) <= 5
                              ? 255 * std::exp(-(dx * dx + dy * dy) / (2 * sigma * sigma)) / (total_weight * total_weight)
                              : 0.0;
      EXPECT_NEAR(spread.at(x, y)[1], want, 0.51) << x << "," << y;
      sum += spread.at(x, y)[1];
    }
  EXPECT_NEAR(sum, 255, 30);  // each of the ~50 non-zero pixels rounds by up to half a level
  // Random images of several shapes, including radii clipped by a short side.
  for (const auto& [w, h, s] : std::vector<std::tuple<int, int, double>>{{17, 9, 0.6}, {12, 3, 2.0}, {1, 6, 1.0}}) {
    const Image src = random_image(w, h, uint64_t(w * 100 + h));
    Image out = src;
    gaussian_blur(out, s);
    EXPECT_LE(test::max_diff(out, blur_reference(src, s)), 1) << w << "x" << h << " sigma " << s;
  }
  EXPECT_THROW(gaussian_blur(delta, 0.0), Error);

  // In the pipeline: with probability 1 and a pinned sigma, the blur of the plain output.
  AugmentOptions o = nothing_on();
  o.blur_probability = 1.0;
  o.blur_sigma_min = o.blur_sigma_max = 1.2;
  const Image photo = structured_image(130, 110, 25);
  Image want = eval_transform(photo, 40);
  gaussian_blur(want, 1.2);
  Rng rng(4);
  EXPECT_EQ(train_transform(photo, 40, o, rng).pixels, want.pixels);
}

TEST(TransformErase, BoxWithinScaleAndRatioFilledWithNoise) {
  AugmentOptions o = nothing_on();
  o.erase_probability = 1.0;
  const Image flat = test::solid_image(100, 100, 90, 160, 30);
  const Image plain = eval_transform(flat, 64);  // constant
  const double area = 64.0 * 64.0;
  int erased = 0;
  for (uint64_t seed = 0; seed < 60; ++seed) {
    Rng rng(seed);
    const Image out = train_transform(flat, 64, o, rng);
    // The erased box is the bounding box of the changed pixels (noise equal to the flat colour on a whole
    // edge row or column of the box is vanishingly unlikely).
    int x0 = 64, y0 = 64, x1 = -1, y1 = -1;
    std::vector<int> seen(256, 0);
    for (int y = 0; y < 64; ++y)
      for (int x = 0; x < 64; ++x)
        if (!std::equal(out.at(x, y), out.at(x, y) + 3, plain.at(x, y))) {
          x0 = std::min(x0, x), y0 = std::min(y0, y), x1 = std::max(x1, x), y1 = std::max(y1, y);
        }
    if (x1 < 0) continue;  // all 10 tries missed: torchvision leaves the image alone too
    ++erased;
    const double w = x1 - x0 + 1, h = y1 - y0 + 1;
    EXPECT_LT(w, 64);
    EXPECT_LT(h, 64);
    // h = round(sqrt(t r)), w = round(sqrt(t / r)): bounds widened by the rounding of each side.
    EXPECT_GE((h + 0.5) * (w + 0.5), o.erase_scale_min * area) << seed;
    EXPECT_LE((h - 0.5) * (w - 0.5), o.erase_scale_max * area) << seed;
    EXPECT_GE((h + 0.5) / (w - 0.5), o.erase_ratio_min) << seed;
    EXPECT_LE((h - 0.5) / (w + 0.5), o.erase_ratio_max) << seed;
    // Noise inside (many distinct values, no constant fill), the image untouched outside.
    for (int y = y0; y <= y1; ++y)
      for (int x = x0; x <= x1; ++x)
        for (int k = 0; k < 3; ++k) seen[out.at(x, y)[k]] = 1;
    EXPECT_GT(std::count(seen.begin(), seen.end(), 1), std::min(200.0, w * h));
    for (int y = 0; y < 64; ++y)
      for (int x = 0; x < 64; ++x)
        if (x < x0 || x > x1 || y < y0 || y > y1) {
          ASSERT_TRUE(std::equal(out.at(x, y), out.at(x, y) + 3, plain.at(x, y))) << x << "," << y;
        }
  }
  EXPECT_GT(erased, 50);
  // A box of the whole area never fits (it must be smaller than the image each way): nothing is erased.
  o.erase_scale_min = o.erase_scale_max = 1.0;
  o.erase_ratio_min = o.erase_ratio_max = 1.0;
  const Image photo = structured_image(100, 100, 26);
  Rng rng(1);
  EXPECT_EQ(train_transform(photo, 64, o, rng).pixels, eval_transform(photo, 64).pixels);
}

// Every augmentation on at once (the "strong" mix): the same seed gives the same image and leaves the Rng
// in the same state; another seed gives another image.
// The pixel steps against torchvision itself: hue on a float tensor (our rounding back to 8 bits),
// RandomGrayscale's PIL convert("L") exactly, and GaussianBlur away from the edges (torchvision pads by
// reflection, we repeat the edge pixel: a choice that only matters within the radius of the border).
TEST(TransformTorchvision, HueGrayscaleAndBlurMatchTorchvision) {
  if (!python_can("torchvision")) {
    ASLNET_SKIP_OR_FAIL("ASLNET_REQUIRE_TORCH", "/usr/bin/python3 cannot import torchvision");
  }
  const Image src = random_image(40, 36, 31);
  const std::vector<double> shifts = {-0.45, -0.1, 0.07, 0.3};
  const std::vector<double> sigmas = {0.7, 1.6};
  std::vector<std::pair<Image, std::string>> jobs;
  for (const double s : shifts)
    jobs.emplace_back(src, "F.to_pil_image((F.adjust_hue(F.pil_to_tensor(im).float() / 255, " + std::to_string(s) +
                               ") * 255).round().to(torch.uint8))");
  jobs.emplace_back(src, "im.convert('L').convert('RGB')");
  for (const double sigma : sigmas) {
    const int k = 2 * int(std::ceil(3 * sigma)) + 1;
    jobs.emplace_back(src, "F.to_pil_image(F.gaussian_blur(F.pil_to_tensor(im).float(), [" + std::to_string(k) + ", " +
                               std::to_string(k) + "], [" + std::to_string(sigma) + ", " + std::to_string(sigma) +
                               "]).round().to(torch.uint8))");
  }
  const std::vector<Image> reference = run_python("import torch\nimport torchvision.transforms.functional as F", jobs);
  ASSERT_EQ(reference.size(), jobs.size());
  size_t j = 0;
  for (const double s : shifts) {
    Image ours = src;
    adjust_hue(ours, s);
    EXPECT_LE(test::max_diff(ours, reference[j++]), 1) << "hue " << s;
  }
  Image grey = src;
  to_grayscale(grey);
  EXPECT_EQ(grey.pixels, reference[j++].pixels);
  for (const double sigma : sigmas) {
    Image ours = src;
    gaussian_blur(ours, sigma);
    const Image& theirs = reference[j++];
    const int r = int(std::ceil(3 * sigma));
    int most = 0;
    for (int y = r; y < src.height - r; ++y)
      for (int x = r; x < src.width - r; ++x)
        for (int c = 0; c < 3; ++c) most = std::max(most, std::abs(int(ours.at(x, y)[c]) - int(theirs.at(x, y)[c])));
    EXPECT_LE(most, 1) << "blur sigma " << sigma;
  }
}

TEST(TransformTrain, EveryAugmentationOnIsDeterministicPerSeed) {
  AugmentOptions o;
  o.crop_scale_min = 0.25;
  o.shear_degrees = 10;
  o.perspective = 0.2;
  o.perspective_probability = 1.0;
  o.hue = 0.1;
  o.grayscale_probability = 0.5;
  o.blur_probability = 0.5;
  o.erase_probability = 0.5;
  const Image src = structured_image(180, 200, 27);
  for (uint64_t seed = 0; seed < 10; ++seed) {
    Rng a(seed, 1), b(seed, 1), c(seed + 1000, 1);
    const Image ia = train_transform(src, 64, o, a);
    EXPECT_EQ(ia.pixels, train_transform(src, 64, o, b).pixels);
    EXPECT_NE(ia.pixels, train_transform(src, 64, o, c).pixels);
    EXPECT_EQ(a.next_u64(), b.next_u64());
  }
}

TEST(TransformOptions, OutOfRangeValuesNameTheirField) {
  check_augment_options(AugmentOptions{});
  auto message = [](AugmentOptions o) {
    try {
      check_augment_options(o);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  AugmentOptions o;
  o.hue = 0.7;
  EXPECT_NE(message(o).find("hue"), std::string::npos) << message(o);
  o = {};
  o.shear_degrees = 50;
  EXPECT_NE(message(o).find("shear"), std::string::npos) << message(o);
  o = {};
  o.perspective = 1.5;
  EXPECT_NE(message(o).find("perspective"), std::string::npos) << message(o);
  o = {};
  o.blur_probability = -0.1;
  EXPECT_NE(message(o).find("blur probability"), std::string::npos) << message(o);
  o = {};
  o.blur_sigma_min = 3;
  EXPECT_NE(message(o).find("blur sigma"), std::string::npos) << message(o);
  o = {};
  o.erase_scale_max = 1.5;
  EXPECT_NE(message(o).find("erase scale"), std::string::npos) << message(o);
  o = {};
  o.crop_scale_min = 0;
  EXPECT_NE(message(o).find("crop scale"), std::string::npos) << message(o);
  Rng rng(1);
  o.crop_scale_min = std::nan("");
  EXPECT_THROW(train_transform(structured_image(50, 50, 1), 32, o, rng), Error);
}

TEST(TransformMinDecodeSide, LowerCropScaleDecodesLarger) {
  EXPECT_EQ(min_decode_side(64, true, AugmentOptions{}.crop_scale_min), min_decode_side(64, true));
  EXPECT_EQ(min_decode_side(64, true, 0.25), 128);  // 64 / sqrt(0.25)
  EXPECT_EQ(min_decode_side(64, true, 1.0), 73);    // the evaluation side still covers the fallback path
  EXPECT_EQ(min_decode_side(64, false, 0.25), 73);
  EXPECT_THROW(min_decode_side(64, true, 0.0), Error);
  EXPECT_THROW(min_decode_side(64, true, 1.5), Error);
}

TEST(TransformResize, CropResizeIsCropThenResize) {
  const Image src = structured_image(90, 70, 28);
  EXPECT_EQ(crop_resize(src, 10, 5, 50, 40, 33, 21).pixels, resize(crop(src, 10, 5, 50, 40), 33, 21).pixels);
  EXPECT_EQ(crop_resize(src, 0, 0, 90, 70, 90, 70).pixels, src.pixels);
  EXPECT_THROW(crop_resize(src, 50, 0, 50, 40, 10, 10), Error);
}

TEST(TransformNormalize, F32Bf16AndU8Values) {
  Image image = test::solid_image(2, 1, 0, 128, 255);
  std::copy_n(std::vector<uint8_t>{255, 0, 64}.data(), 3, image.at(1, 0));
  const Normalization norm;
  std::vector<float> f32(6);
  normalize_into(image, norm, DType::F32, f32.data());
  const uint8_t px[6] = {0, 128, 255, 255, 0, 64};
  for (int i = 0; i < 6; ++i) {
    const int c = i % 3;
    const float want = (px[i] / 255.0f - norm.mean[size_t(c)]) / norm.std[size_t(c)];
    EXPECT_FLOAT_EQ(f32[size_t(i)], want) << i;
  }
  EXPECT_NEAR(f32[0], -0.485 / 0.229, 1e-6);
  EXPECT_NEAR(f32[2], (1.0 - 0.406) / 0.225, 1e-6);
  std::vector<bf16> b16(6);
  normalize_into(image, norm, DType::BF16, b16.data());
  for (int i = 0; i < 6; ++i) EXPECT_EQ(b16[size_t(i)].bits, to_bf16(f32[size_t(i)]).bits) << i;
  std::vector<uint8_t> u8(6, 7);
  normalize_into(image, norm, DType::U8, u8.data());
  EXPECT_EQ(u8, std::vector<uint8_t>(px, px + 6));
  EXPECT_THROW(normalize_into(image, norm, DType::I32, f32.data()), Error);
}

TEST(TransformMinDecodeSide, CoversEvalResizeAndTrainCrops) {
  EXPECT_EQ(min_decode_side(64, false), 73);
  EXPECT_EQ(min_decode_side(224, false), 256);
  EXPECT_EQ(min_decode_side(64, true), 109);  // ceil(64 / sqrt(0.35)) = ceil(108.18)
  for (int size : {32, 64, 128, 224}) {
    EXPECT_GE(min_decode_side(size, true), min_decode_side(size, false));
    EXPECT_GE(min_decode_side(size, true) * std::sqrt(AugmentOptions{}.crop_scale_min), size - 1e-9);
  }
  // A 200x200 photo for 64x64 training decodes at 5/8 scale (125 >= 109; 1/2 would give 100), for
  // evaluation at 3/8 (75 >= 73): the smallest DCT scale that covers the target.
  JpegDecoder decoder;
  const std::vector<uint8_t> jpeg = encode_jpeg(structured_image(200, 200, 12), 90);
  const int train_side = min_decode_side(64, true), eval_side = min_decode_side(64, false);
  EXPECT_EQ(decoder.decode(jpeg.data(), jpeg.size(), train_side, train_side).width, 125);
  EXPECT_EQ(decoder.decode(jpeg.data(), jpeg.size(), eval_side, eval_side).width, 75);
}

}  // namespace
}  // namespace aslnet
