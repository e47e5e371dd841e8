// aslnet plot's picture (report/training_curves.h): three panels of the requested size, every run's
// curves in its own colour, validation dashed and missing figures left out.
#include <gtest/gtest.h>

#include <cmath>

#include "engine/core/error.h"
#include "report/training_curves.h"

namespace aslnet {
namespace {

MetricsTable run(int epochs, bool validated) {
  MetricsTable t;
  t.path = "metrics.csv";
  t.columns = metrics_columns({"data"});
  for (int e = 1; e <= epochs; ++e) {
    std::vector<double> r(t.columns.size(), NAN);
    r[0] = e;
    r[size_t(t.find("train_loss"))] = 3.0 / e;
    r[size_t(t.find("train_acc"))] = 0.1 * e;
    if (validated) {
      r[size_t(t.find("val_loss"))] = 2.0 / e;
      r[size_t(t.find("val_acc"))] = 0.08 * e;
    }
    r[size_t(t.find("lr"))] = 0.1 / e;
    t.rows.push_back(r);
  }
  return t;
}

int count_colour(const Image& image, Rgb c) {
  int n = 0;
  for (size_t i = 0; i < image.pixels.size(); i += 3)
    n += image.pixels[i] == c.r && image.pixels[i + 1] == c.g && image.pixels[i + 2] == c.b;
  return n;
}

TEST(TrainingCurves, ThreePanelsOfTheRequestedSizeWithEveryRun) {
  const std::vector<RunCurves> runs{{"a", run(5, true)}, {"b", run(3, false)}};
  const std::vector<LineChart> panels = training_curve_panels(runs, 900, 1200);
  ASSERT_EQ(panels.size(), 3u);
  // Loss and accuracy: train and validation of each run; the run without validation has an empty twin.
  ASSERT_EQ(panels[0].series.size(), 4u);
  EXPECT_TRUE(panels[0].series[0].dashed);
  EXPECT_EQ(panels[0].series[0].name, "");
  EXPECT_EQ(panels[0].series[1].name, "a");
  EXPECT_EQ(panels[0].series[2].x.size(), 0u);
  EXPECT_EQ(panels[1].series[1].y.back(), 50.0);  // accuracy in percent
  EXPECT_EQ(panels[2].series.size(), 2u);
  EXPECT_EQ(panels[0].x_ticks, (std::vector<double>{1, 2, 3, 4, 5}));
  const Image image = render_chart_panels(panels);
  EXPECT_EQ(image.width, 900);
  EXPECT_EQ(image.height, 1200);
  EXPECT_GT(count_colour(image, panels[0].series[1].colour), 300);
  EXPECT_GT(count_colour(image, panels[0].series[3].colour), 300);
  EXPECT_NE(panels[0].series[1].colour.r, panels[0].series[3].colour.r);
}

TEST(TrainingCurves, ManyEpochsGetRoundTicks) {
  const std::vector<LineChart> panels = training_curve_panels({{"a", run(95, true)}}, 900, 1200);
  EXPECT_EQ(panels[0].x_ticks, (std::vector<double>{1, 10, 20, 30, 40, 50, 60, 70, 80, 90}));
}

TEST(TrainingCurves, TooSmallAPictureIsRefused) {
  EXPECT_THROW(render_chart_panels(training_curve_panels({{"a", run(2, true)}}, 900, 300)), Error);
}

}  // namespace
}  // namespace aslnet
