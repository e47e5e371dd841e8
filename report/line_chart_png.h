// A line chart as a PNG picture: y against x for a few named series (for the benchmarks, time or
// images/s against GPU count, as the seed project drew its scaling experiment; for aslnet plot, a run's
// curves against the epoch), with axes, ticks at the given x values, a legend and a title. Several
// charts stack into one picture as panels. Drawn with report/raster.h.
#pragma once

#include <string>
#include <vector>

#include "report/raster.h"

namespace aslnet {

struct ChartSeries {
  std::string name;          // in the legend; "" leaves the series out of it (e.g. a run's dashed twin)
  std::vector<double> x, y;  // points in order of x; a series may have gaps (fewer points)
  Rgb colour{30, 90, 200};
  bool dashed = false;  // e.g. a model's predictions next to measured points
};

struct LineChart {
  std::string title, x_label, y_label;
  std::vector<double> x_ticks;  // where the x axis is labelled (e.g. the GPU counts)
  bool log2_x = false;          // x spaced by log2 (1, 2, 4, ... 64 GPUs evenly apart)
  std::vector<ChartSeries> series;
  // The whole picture's size in pixels; 0: a 640 x 400 plot with its axes, title and legend around it.
  int width = 0, height = 0;
};

// The legend flows left to right under the plot, wrapping into more rows when it must. An Error when
// `width` or `height` leaves too little room for the plot.
Image render_line_chart(const LineChart& chart);
// The charts one above the other in one picture, as wide as the widest.
Image render_chart_panels(const std::vector<LineChart>& panels);
// render_line_chart, written to `path` (`what` names the flag or file in errors).
void write_line_chart_png(const std::string& path, const LineChart& chart, const std::string& what);

}  // namespace aslnet
