#include "report/line_chart_png.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "engine/core/error.h"

namespace aslnet {

namespace {

// A short label for a tick value: 3 significant digits, no trailing zeros.
std::string tick_label(double v) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.3g", v);
  return text;
}

// Round-number ticks covering [0, top]: 1, 2 or 5 times a power of ten apart.
std::vector<double> y_ticks(double top) {
  const double raw = top / 5.0;
  const double power = std::pow(10.0, std::floor(std::log10(raw)));
  const double step = raw / power < 1.5 ? power : raw / power < 3.5 ? 2 * power : raw / power < 7.5 ? 5 * power
                                                                                                    : 10 * power;
  std::vector<double> ticks{0.0};
  while (ticks.back() < top) ticks.push_back(ticks.back() + step);  // the last tick is at or above `top`
  return ticks;
}

}  // namespace

Image render_line_chart(const LineChart& chart) {
  double x_lo = 1e300, x_hi = -1e300, y_hi = 0.0;
  for (const auto& s : chart.series) {
    ASLNET_CHECK(s.x.size() == s.y.size()) << "chart series " << s.name << ": " << s.x.size() << " x values, "
                                           << s.y.size() << " y values";
    for (size_t i = 0; i < s.x.size(); ++i) {
      x_lo = std::min(x_lo, s.x[i]), x_hi = std::max(x_hi, s.x[i]);
      y_hi = std::max(y_hi, s.y[i]);
    }
  }
  for (double t : chart.x_ticks) x_lo = std::min(x_lo, t), x_hi = std::max(x_hi, t);
  ASLNET_CHECK(x_lo <= x_hi) << "a chart needs at least one point or x tick";
  if (y_hi <= 0.0) y_hi = 1.0;
  const std::vector<double> yt = y_ticks(y_hi * 1.05);
  const double y_top = yt.back();

  constexpr int kScale = 2, kMargin = 16, kLegendRow = 22, kSwatch = 52, kLegendGap = 24;
  size_t widest = 0;
  for (double t : yt) widest = std::max(widest, tick_label(t).size());
  const int left = kMargin + Canvas::text_height(kScale) + kMargin +
                   Canvas::text_width(std::string(widest, '0'), kScale) + 8;
  const int top = kMargin + Canvas::text_height(kScale) + kMargin;
  const int plot_w = chart.width > 0 ? chart.width - left - kMargin * 2 : 640;
  const int width = chart.width > 0 ? chart.width
                                    : std::max(left + plot_w + kMargin * 2,
                                               Canvas::text_width(chart.title, kScale) + 2 * kMargin);
  // The legend's entries, placed in rows as wide as the picture allows.
  struct Entry {
    const ChartSeries* series;
    int x, row;
  };
  std::vector<Entry> legend;
  int rows = 0;
  for (int x = width; const auto& s : chart.series) {
    if (s.name.empty()) continue;
    const int w = kSwatch + Canvas::text_width(s.name, kScale);
    if (x > left && x + w > width - kMargin) x = left, ++rows;
    legend.push_back({&s, x, rows - 1});
    x += w + kLegendGap;
  }
  const int legend_h = rows * kLegendRow + kMargin;
  const int below = 8 + Canvas::text_height(kScale) * 2 + kMargin * 3 + legend_h;  // x ticks, x label, legend
  const int plot_h = chart.height > 0 ? chart.height - top - below : 400;
  ASLNET_CHECK(plot_w >= 100 && plot_h >= 60)
      << "a " << width << " x " << (chart.height > 0 ? chart.height : top + plot_h + below) << " chart ('"
      << chart.title << "') leaves a " << plot_w << " x " << plot_h
      << " plot for its axes and legend; make the picture larger";
  Canvas canvas(width, top + plot_h + below);
  const Rgb ink{20, 20, 20}, grid{228, 228, 228};

  auto fx = [&](double x) {
    const double a = chart.log2_x ? std::log2(std::max(x, 1e-9)) : x;
    const double lo = chart.log2_x ? std::log2(std::max(x_lo, 1e-9)) : x_lo;
    const double hi = chart.log2_x ? std::log2(std::max(x_hi, 1e-9)) : x_hi;
    return left + (hi > lo ? int(std::lround((a - lo) / (hi - lo) * (plot_w - 20))) + 10 : plot_w / 2);
  };
  auto fy = [&](double y) { return top + plot_h - int(std::lround(y / y_top * plot_h)); };

  canvas.text(kMargin, kMargin, chart.title, kScale, ink);
  // Grid, y ticks and x ticks.
  for (double t : yt) {
    canvas.line(left, fy(t), left + plot_w, fy(t), grid);
    const std::string s = tick_label(t);
    canvas.text(left - 8 - Canvas::text_width(s, kScale), fy(t) - Canvas::text_height(kScale) / 2, s, kScale, ink);
  }
  for (double t : chart.x_ticks) {
    canvas.line(fx(t), top, fx(t), top + plot_h, grid);
    const std::string s = tick_label(t);
    canvas.text(fx(t) - Canvas::text_width(s, kScale) / 2, top + plot_h + 8, s, kScale, ink);
  }
  canvas.line(left, top, left, top + plot_h, ink, 2);
  canvas.line(left, top + plot_h, left + plot_w, top + plot_h, ink, 2);
  const int x_label_y = top + plot_h + 8 + Canvas::text_height(kScale) + kMargin;
  canvas.text(left + (plot_w - Canvas::text_width(chart.x_label, kScale)) / 2, x_label_y, chart.x_label, kScale, ink);
  // The y label runs down the left edge, one character under another.
  canvas.text(kMargin, top, chart.y_label, kScale, ink, /*vertical=*/true);

  // Series: lines between points, a square on each point. Dashed series (predictions) first, so that a
  // measured point that sits on a predicted one stays visible (the model's 1-GPU point is the measured
  // run itself, and once hid it).
  for (const bool dashed : {true, false})
    for (const auto& s : chart.series) {
      if (s.dashed != dashed) continue;
      for (size_t i = 0; i + 1 < s.x.size(); ++i)
        canvas.line(fx(s.x[i]), fy(s.y[i]), fx(s.x[i + 1]), fy(s.y[i + 1]), s.colour, 3, s.dashed ? 8 : 0);
      for (size_t i = 0; i < s.x.size(); ++i) canvas.fill(fx(s.x[i]) - 4, fy(s.y[i]) - 4, 9, 9, s.colour);
    }
  // Legend.
  const int legend_y = x_label_y + Canvas::text_height(kScale) + kMargin;
  for (const Entry& e : legend) {
    const int y = legend_y + e.row * kLegendRow;
    canvas.line(e.x, y + 7, e.x + 40, y + 7, e.series->colour, 3, e.series->dashed ? 8 : 0);
    canvas.text(e.x + kSwatch, y, e.series->name, kScale, ink);
  }
  return canvas.take();
}

Image render_chart_panels(const std::vector<LineChart>& panels) {
  std::vector<Image> images;
  int width = 0, height = 0;
  for (const LineChart& chart : panels) {
    images.push_back(render_line_chart(chart));
    width = std::max(width, images.back().width);
    height += images.back().height;
  }
  Canvas canvas(width, height);
  Image out = canvas.take();
  int y0 = 0;
  for (const Image& image : images) {
    for (int y = 0; y < image.height; ++y)
      std::copy(image.at(0, y), image.at(0, y) + size_t(image.width) * 3, out.at(0, y0 + y));
    y0 += image.height;
  }
  return out;
}

void write_line_chart_png(const std::string& path, const LineChart& chart, const std::string& what) {
  write_png(path, render_line_chart(chart), what);
}

}  // namespace aslnet
