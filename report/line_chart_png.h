// A line chart as a PNG picture, for the benchmarks: y against x for a few named series (time or
// images/s against GPU count, as the seed project drew its scaling experiment), with axes, ticks at the
// given x values, a legend and a title. Drawn with report/raster.h.
#pragma once

#include <string>
#include <vector>

#include "report/raster.h"

namespace aslnet {

struct ChartSeries {
  std::string name;
  std::vector<double> x, y;  // points in order of x; a series may have gaps (fewer points)
  Rgb colour{30, 90, 200};
  bool dashed = false;  // e.g. a model's predictions next to measured points
};

struct LineChart {
  std::string title, x_label, y_label;
  std::vector<double> x_ticks;  // where the x axis is labelled (e.g. the GPU counts)
  bool log2_x = false;          // x spaced by log2 (1, 2, 4, ... 64 GPUs evenly apart)
  std::vector<ChartSeries> series;
};

Image render_line_chart(const LineChart& chart);
// render_line_chart, written to `path` (`what` names the flag or file in errors).
void write_line_chart_png(const std::string& path, const LineChart& chart, const std::string& what);

}  // namespace aslnet
