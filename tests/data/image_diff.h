// Pixel differences between two RGB images, and small test pictures, for the image tests.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>

#include "data/jpeg.h"
#include "engine/core/rng.h"

namespace aslnet::test {

// The largest per-channel difference; 256 (with a test failure) when the sizes differ.
inline int max_diff(const Image& a, const Image& b) {
  EXPECT_EQ(a.width, b.width);
  EXPECT_EQ(a.height, b.height);
  if (a.pixels.size() != b.pixels.size()) return 256;
  int most = 0;
  for (size_t i = 0; i < a.pixels.size(); ++i) most = std::max(most, std::abs(int(a.pixels[i]) - int(b.pixels[i])));
  return most;
}

// A width x height picture of one colour.
inline Image solid_image(int width, int height, uint8_t r, uint8_t g, uint8_t b) {
  Image image;
  image.width = width;
  image.height = height;
  image.pixels.resize(size_t(width) * size_t(height) * 3);
  for (size_t i = 0; i < image.pixels.size(); i += 3) {
    image.pixels[i] = r;
    image.pixels[i + 1] = g;
    image.pixels[i + 2] = b;
  }
  return image;
}

// A picture of uniformly random bytes from `seed`.
inline Image random_image(int width, int height, uint64_t seed) {
  Rng rng(seed);
  Image image;
  image.width = width;
  image.height = height;
  image.pixels.resize(size_t(width) * size_t(height) * 3);
  for (auto& p : image.pixels) p = uint8_t(rng.below(256));
  return image;
}

}  // namespace aslnet::test
