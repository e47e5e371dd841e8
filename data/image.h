// The picture type of the whole engine: decoded photos, transformed training images, composited hands,
// and the pictures report/ draws (charts, confusion matrices, contact sheets).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace aslnet {

// An 8-bit RGB image, rows top to bottom, pixels interleaved (HWC).
struct Image {
  int width = 0, height = 0;
  std::vector<uint8_t> pixels;  // width * height * 3
  uint8_t* at(int x, int y) { return pixels.data() + (size_t(y) * width + x) * 3; }
  const uint8_t* at(int x, int y) const { return pixels.data() + (size_t(y) * width + x) * 3; }
};

}  // namespace aslnet
