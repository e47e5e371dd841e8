// Pixel differences between two RGB images, for the JPEG and transform tests.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>

#include "data/jpeg.h"

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

}  // namespace aslnet::test
