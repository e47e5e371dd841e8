// Drawing into RGB pictures and writing them as PNG files, by hand over zlib: a 5x7 bitmap font,
// filled rectangles, lines and text, and a minimal PNG encoder (signature, IHDR, one zlib IDAT, IEND).
// The confusion matrix (report/confusion_png.h) and the benchmark charts (report/line_chart_png.h) are drawn
// with it; a picture is a few kilobytes and needs no image library.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/image.h"

namespace aslnet {

// One colour. Pictures are data/image.h's Image (row-major, 3 bytes a pixel).
struct Rgb {
  uint8_t r, g, b;
};

// A white picture to draw on. Everything is clipped to the picture.
class Canvas {
 public:
  Canvas(int width, int height);
  void fill(int x0, int y0, int w, int h, Rgb c);
  // A straight line `thickness` pixels wide; with `dash` > 0, drawn `dash` pixels on, `dash` off.
  void line(int x0, int y0, int x1, int y1, Rgb c, int thickness = 1, int dash = 0);
  // Draws `text` with its top-left corner at (x, y), each font pixel `scale` x `scale` pixels (5x7 glyphs,
  // 6 pixels apart: digits, A-Z, a-z and . % : ( ) - / _ ,). `vertical` stacks the characters downwards.
  void text(int x, int y, const std::string& s, int scale, Rgb c, bool vertical = false);
  static int text_width(const std::string& s, int scale) { return int(s.size()) * 6 * scale; }
  static int text_height(int scale) { return 7 * scale; }
  Image take() { return std::move(image_); }

 private:
  Image image_;
};

// `to` shaded towards white: f = 1 gives `to`, f = 0 white.
uint8_t blend(uint8_t to, double f);

// Encodes `image` as a PNG file's bytes (8-bit RGB, zlib-compressed).
std::vector<uint8_t> encode_png(const Image& image);
// encode_png, written to `path`; errors name `what` (the flag that gave the path) and the file.
void write_png(const std::string& path, const Image& image, const std::string& what);

}  // namespace aslnet
