// aslnet plot's panels: see training_curves.h.
#include "report/training_curves.h"

#include <algorithm>
#include <cmath>

#include "engine/core/error.h"

namespace aslnet {

namespace {

using namespace metrics_column;

// Distinct colours for up to eight runs, then again.
const Rgb kColours[] = {{30, 90, 200},  {220, 60, 40},  {40, 150, 60}, {230, 140, 20},
                        {130, 60, 170}, {20, 150, 160}, {140, 90, 50}, {110, 110, 110}};

// Epoch ticks: every epoch up to ten, then every 2, 5, 10, 20, 50... epochs.
std::vector<double> epoch_ticks(double last) {
  double step = 1;
  for (int k = 0; last / step > 10; ++k) step *= k % 3 == 1 ? 2.5 : 2;  // 1, 2, 5, 10, 20, 50, ...
  std::vector<double> ticks;
  for (double t = step; t <= last; t += step) ticks.push_back(t);
  if (step > 1) ticks.insert(ticks.begin(), 1);
  return ticks;
}

// One run's curve of `column` (scaled by `scale`); epochs that did not measure it are left out.
ChartSeries curve(const RunCurves& run, const std::string& column, double scale, Rgb colour, bool dashed,
                  std::string name) {
  ChartSeries s{std::move(name), {}, {}, colour, dashed};
  const std::vector<double> epochs = run.metrics.column(kEpoch), values = run.metrics.column(column);
  for (size_t i = 0; i < epochs.size(); ++i)
    if (!std::isnan(values[i])) {
      s.x.push_back(epochs[i]);
      s.y.push_back(values[i] * scale);
    }
  return s;
}

}  // namespace

std::vector<LineChart> training_curve_panels(const std::vector<RunCurves>& runs, int width, int height) {
  ASLNET_CHECK(!runs.empty()) << "no runs to plot";
  double last_epoch = 1;
  for (const RunCurves& run : runs)
    for (double e : run.metrics.column(kEpoch)) last_epoch = std::max(last_epoch, e);
  std::vector<LineChart> panels(3);
  const char* titles[] = {"loss (solid: train, dashed: validation)", "accuracy % (solid: train, dashed: validation)",
                          "learning rate"};
  const char* y_labels[] = {"loss", "acc %", "lr"};
  for (size_t p = 0; p < panels.size(); ++p) {
    panels[p].title = titles[p];
    panels[p].x_label = "epoch";
    panels[p].y_label = y_labels[p];
    panels[p].x_ticks = epoch_ticks(last_epoch);
    panels[p].width = width;
    panels[p].height = p + 1 < panels.size() ? height / 3 : height - 2 * (height / 3);
  }
  for (size_t r = 0; r < runs.size(); ++r) {
    const Rgb colour = kColours[r % std::size(kColours)];
    const RunCurves& run = runs[r];
    // The training curve names the run in the legend; its dashed validation twin, in the same colour, does not.
    panels[0].series.push_back(curve(run, kValLoss, 1.0, colour, true, ""));
    panels[0].series.push_back(curve(run, kTrainLoss, 1.0, colour, false, run.name));
    panels[1].series.push_back(curve(run, kValAccuracy, 100.0, colour, true, ""));
    panels[1].series.push_back(curve(run, kTrainAccuracy, 100.0, colour, false, run.name));
    panels[2].series.push_back(curve(run, kLearningRate, 1.0, colour, false, run.name));
  }
  return panels;
}

}  // namespace aslnet
