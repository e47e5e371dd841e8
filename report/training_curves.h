// The pictures `aslnet plot` draws from runs' metrics.csv (report/metrics_csv.h): three panels, loss,
// accuracy and learning rate against the epoch, one colour per run, training solid and validation
// dashed, the legend naming each run.
#pragma once

#include <string>
#include <vector>

#include "report/line_chart_png.h"
#include "report/metrics_csv.h"

namespace aslnet {

struct RunCurves {
  std::string name;  // in the legend: the run's folder
  MetricsTable metrics;
};

// The three panels, together `width` x `height` pixels (report/line_chart_png.h stacks them).
std::vector<LineChart> training_curve_panels(const std::vector<RunCurves>& runs, int width, int height);

}  // namespace aslnet
