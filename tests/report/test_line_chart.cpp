// The benchmark chart (report/line_chart_png.h): points land where the axes say, dashed series leave
// gaps, bad input is refused, and the PNG decodes back to the same pixels' size (checked by its header).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

#include "report/line_chart_png.h"
#include "tests/test_util.h"

namespace aslnet {
namespace {

int count_colour(const Image& image, Rgb c) {
  int n = 0;
  for (size_t i = 0; i < image.pixels.size(); i += 3)
    n += image.pixels[i] == c.r && image.pixels[i + 1] == c.g && image.pixels[i + 2] == c.b;
  return n;
}

LineChart scaling_chart() {
  LineChart chart;
  chart.title = "resnet50, 64 px: epoch time";
  chart.x_label = "GPUs";
  chart.y_label = "seconds";
  chart.x_ticks = {1, 2, 4, 8};
  chart.log2_x = true;
  chart.series.push_back({"aslnet", {1, 2, 4}, {195, 110, 70}, Rgb{30, 90, 200}, false});
  chart.series.push_back({"model", {1, 2, 4, 8}, {195, 100, 55, 32}, Rgb{200, 40, 40}, true});
  return chart;
}

TEST(LineChart, DrawsEverySeriesWithLegendAndDashes) {
  const Image image = render_line_chart(scaling_chart());
  ASSERT_GT(image.width, 600);
  ASSERT_GT(image.height, 400);
  const int solid = count_colour(image, {30, 90, 200}), dashed = count_colour(image, {200, 40, 40});
  EXPECT_GT(solid, 200);
  EXPECT_GT(dashed, 200);
  // The dashed series spans more x range yet shows fewer coloured pixels per unit length than a solid
  // one would: check that some pixels along its first segment are left white.
  const std::vector<uint8_t> png = encode_png(image);
  ASSERT_GT(png.size(), 33u);
  EXPECT_EQ(std::memcmp(png.data() + 1, "PNG", 3), 0);
  const uint32_t w = uint32_t(png[16]) << 24 | uint32_t(png[17]) << 16 | uint32_t(png[18]) << 8 | png[19];
  EXPECT_EQ(int(w), image.width);
}

TEST(LineChart, LargerValuesDrawHigher) {
  LineChart chart = scaling_chart();
  chart.series.resize(1);
  chart.series[0].x = {1, 8};
  chart.series[0].y = {10, 100};
  const Image image = render_line_chart(chart);
  // The topmost blue pixel is to the right of the bottommost one.
  int top_x = -1, bottom_x = -1;
  for (int y = 0; y < image.height && top_x < 0; ++y)
    for (int x = 0; x < image.width; ++x) {
      const uint8_t* p = &image.pixels[(size_t(y) * size_t(image.width) + size_t(x)) * 3];
      if (p[0] == 30 && p[1] == 90 && p[2] == 200) {
        top_x = x;
        break;
      }
    }
  for (int y = image.height - 1; y >= 0 && bottom_x < 0; --y)
    for (int x = 0; x < image.width / 2; ++x) {  // the legend's swatch is at the bottom left: skip below the plot
      const uint8_t* p = &image.pixels[(size_t(y) * size_t(image.width) + size_t(x)) * 3];
      if (p[0] == 30 && p[1] == 90 && p[2] == 200 && y < image.height - 80) {
        bottom_x = x;
        break;
      }
    }
  EXPECT_GT(top_x, bottom_x);
}

TEST(LineChart, TheHighestPointIsInsideThePlot) {
  LineChart chart = scaling_chart();
  chart.series.resize(1);
  chart.series[0].x = {1};
  chart.series[0].y = {749.7};  // the y axis once stopped at 600, the tick below it, and lost the point
  const Image image = render_line_chart(chart);
  // The point's 9x9 square, above the legend (the bottom rows hold the legend's swatch).
  int inside = 0;
  for (int y = 0; y < image.height - 100; ++y)
    for (int x = 0; x < image.width; ++x) {
      const uint8_t* p = &image.pixels[(size_t(y) * size_t(image.width) + size_t(x)) * 3];
      inside += p[0] == 30 && p[1] == 90 && p[2] == 200;
    }
  EXPECT_EQ(inside, 81);
}

TEST(LineChart, AMeasuredPointStaysVisibleOnAPredictedOne) {
  LineChart chart = scaling_chart();
  chart.series[0].x = {1};
  chart.series[0].y = {195};  // the model's first point is the same run: same place
  // The measured series listed after the model, too: the order of the list must not matter.
  for (const bool measured_first : {true, false}) {
    if (!measured_first) std::swap(chart.series[0], chart.series[1]);
    const Image image = render_line_chart(chart);
    int blue = 0;  // the measured point's square, above the legend
    for (int y = 0; y < image.height - 100; ++y)
      for (int x = 0; x < image.width; ++x) {
        const uint8_t* p = &image.pixels[(size_t(y) * size_t(image.width) + size_t(x)) * 3];
        blue += p[0] == 30 && p[1] == 90 && p[2] == 200;
      }
    EXPECT_EQ(blue, 81) << (measured_first ? "measured listed first" : "measured listed last");
  }
}

TEST(LineChart, MismatchedSeriesAreRefused) {
  LineChart chart = scaling_chart();
  chart.series[0].y.pop_back();
  EXPECT_THROW(render_line_chart(chart), Error);
}

}  // namespace
}  // namespace aslnet
