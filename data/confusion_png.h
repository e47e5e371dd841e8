// The confusion matrix as a PNG picture: one cell per (true class, predicted class), shaded by the
// share of the true class's images that went to that prediction (row-normalised, so rare classes show
// as clearly as common ones), the diagonal in blue and the errors in red, class names along both axes
// and a title line. Written by hand over zlib (a 5x7 bitmap font, no image library): the picture is a
// few kilobytes and needs nothing else installed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace aslnet {

// An RGB picture in memory, row-major, 3 bytes a pixel.
struct RgbImage {
  int width = 0, height = 0;
  std::vector<uint8_t> pixels;
};

// Encodes `image` as a PNG file's bytes (8-bit RGB, zlib-compressed).
std::vector<uint8_t> encode_png(const RgbImage& image);

// Draws the picture of `confusion` (classes.size() squared counts, row = true class).
RgbImage render_confusion(const std::vector<std::string>& classes, const std::vector<int64_t>& confusion,
                          const std::string& title);

// render_confusion + encode_png, written to `path` (an Error naming the file when it cannot be written).
void write_confusion_png(const std::string& path, const std::vector<std::string>& classes,
                         const std::vector<int64_t>& confusion, const std::string& title);

}  // namespace aslnet
