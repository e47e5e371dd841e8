// Tests of the pixel font's lower case and the confusion picture's labels (report/raster.h,
// report/confusion_png.h): every letter a-z has a glyph of its own, unlike its capital and unlike every
// other letter; a class name is drawn as spelled (del is not DEL); the picture carries the axis titles.
#include <gtest/gtest.h>

#include <set>

#include "report/confusion_png.h"
#include "report/raster.h"

namespace aslnet {
namespace {

// The pixels of `text` drawn at scale 1 on a canvas just large enough.
std::vector<uint8_t> drawn(const std::string& text) {
  Canvas canvas(Canvas::text_width(text, 1), Canvas::text_height(1));
  canvas.text(0, 0, text, 1, {0, 0, 0});
  return canvas.take().pixels;
}

bool blank(const std::vector<uint8_t>& pixels) {
  for (uint8_t p : pixels)
    if (p != 255) return false;
  return true;
}

TEST(RasterFont, LowerCaseLettersHaveTheirOwnGlyphs) {
  std::set<std::vector<uint8_t>> seen;
  for (char c = 'a'; c <= 'z'; ++c) {
    const std::vector<uint8_t> lower = drawn(std::string(1, c));
    EXPECT_FALSE(blank(lower)) << c;
    EXPECT_NE(lower, drawn(std::string(1, char(c - 'a' + 'A')))) << c;
    seen.insert(lower);
  }
  EXPECT_EQ(seen.size(), 26u);
  // A character without a glyph is a blank of the same width.
  EXPECT_TRUE(blank(drawn("~")));
}

TEST(ConfusionPng, ClassNamesAsSpelledAndAxisTitles) {
  const std::vector<int64_t> confusion = {3, 1, 0, 2};
  const Image lower = render_confusion({"A", "del"}, confusion, "title");
  const Image upper = render_confusion({"A", "DEL"}, confusion, "title");
  ASSERT_EQ(lower.width, upper.width);
  ASSERT_EQ(lower.height, upper.height);
  EXPECT_NE(lower.pixels, upper.pixels);
  // The picture is wide enough for "predicted class" over the two columns, and tall enough for "true
  // class" stacked beside the two rows (10 characters, 18 pixels apart at scale 2).
  EXPECT_GE(lower.width, Canvas::text_width("predicted class", 2));
  EXPECT_GE(lower.height, 10 * 18);
}

}  // namespace
}  // namespace aslnet
