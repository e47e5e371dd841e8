// Tests of the image transforms: the resize against Pillow's BILINEAR resize and the evaluation / random
// resized crop paths against torchvision's functions on PIL images (what a PyTorch user's pipeline
// computes), then the augmentation contract: same seed same image, every switch off gives the plain path,
// flip mirrors exactly, jitter at factor 1 is the identity, rotation turns counter-clockwise about the
// centre, and normalisation's values in each dtype.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
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

Image constant_image(int width, int height, uint8_t r, uint8_t g, uint8_t b) {
  Image image;
  image.width = width;
  image.height = height;
  image.pixels.resize(size_t(width) * height * 3);
  for (size_t i = 0; i < image.pixels.size(); i += 3) {
    image.pixels[i] = r;
    image.pixels[i + 1] = g;
    image.pixels[i + 2] = b;
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
  Image board = constant_image(64, 64, 0, 0, 0);
  for (int y = 0; y < 64; ++y)
    for (int x = 0; x < 64; ++x)
      if ((x + y) % 2) std::fill_n(board.at(x, y), 3, uint8_t(255));
  const Image small = resize(board, 16, 16);
  for (int y = 1; y < 15; ++y)
    for (int x = 1; x < 15; ++x) EXPECT_NEAR(small.at(x, y)[0], 128, 2) << x << "," << y;
  const Image flat = constant_image(90, 70, 10, 200, 255);
  EXPECT_EQ(test::max_diff(resize(flat, 33, 41), constant_image(33, 41, 10, 200, 255)), 0);
  EXPECT_EQ(test::max_diff(resize(flat, 150, 170), constant_image(150, 170, 10, 200, 255)), 0);
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
  const Image grey = constant_image(100, 100, 90, 90, 90);
  AugmentOptions con = sat;
  con.saturation = 0;
  con.contrast = 0.9;
  for (uint64_t seed = 0; seed < 5; ++seed) {
    Rng r1(seed), r2(seed), r3(seed), r4(seed);
    EXPECT_EQ(test::max_diff(train_transform(grey, 32, sat, r1), constant_image(32, 32, 90, 90, 90)), 0);
    EXPECT_EQ(test::max_diff(train_transform(grey, 32, con, r2), constant_image(32, 32, 90, 90, 90)), 0);
    EXPECT_GT(test::max_diff(train_transform(src, 64, sat, r3), plain), 2);
    EXPECT_GT(test::max_diff(train_transform(src, 64, con, r4), plain), 2);
  }
  // Contrast on a flat colour: every channel moves toward the image's mean grey, by the drawn factor.
  const Image flat = constant_image(100, 100, 30, 140, 250);
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
  const Image flat = constant_image(120, 90, 60, 120, 180);
  Rng r0(1);
  EXPECT_EQ(test::max_diff(train_transform(flat, 48, o, r0), constant_image(48, 48, 60, 120, 180)), 0);

  // A bright dot right of centre moves up for a positive angle (counter-clockwise, torchvision's sign).
  Image dot = constant_image(200, 200, 0, 0, 0);
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

TEST(TransformNormalize, F32Bf16AndU8Values) {
  Image image = constant_image(2, 1, 0, 128, 255);
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
