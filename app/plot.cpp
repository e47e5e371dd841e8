// aslnet plot RUN... [--out curves.png] [--width W --height H]: draws the training curves of one or
// more runs (each a run folder, read through its metrics.csv, or a metrics.csv file) into one PNG:
// loss, accuracy and learning rate against the epoch, one colour per run (report/training_curves.h).
#include <fmt/core.h>

#include <filesystem>

#include "app/cli_checks.h"
#include "app/commands.h"
#include "engine/core/error.h"
#include "report/training_curves.h"

namespace aslnet::app {

namespace {

namespace fs = std::filesystem;

struct PlotOptions {
  std::vector<std::string> runs;
  std::string out = "curves.png";
  int width = 900, height = 1200;
};

// A run as the user named it: its metrics.csv and the folder's name for the legend.
RunCurves read_run(const std::string& run) {
  fs::path path(run);
  std::error_code error;
  if (fs::is_directory(path, error)) {
    path /= "metrics.csv";
    ASLNET_CHECK(fs::exists(path, error))
        << run << " has no metrics.csv (not a run folder of aslnet train, or a run that has not finished an epoch)";
  } else {
    ASLNET_CHECK(fs::exists(path, error)) << run << ": no such run folder or metrics.csv";
  }
  // "runs/a/metrics.csv", "runs/a/" and "runs/a" all name run "a".
  const fs::path folder = fs::absolute(path, error).lexically_normal().parent_path();
  return {folder.filename().string(), read_metrics_csv(path.string())};
}

// "2 runs, 5 and 3 epochs"
std::string summary(const std::vector<RunCurves>& runs) {
  std::string epochs;
  for (size_t i = 0; i < runs.size(); ++i)
    epochs += fmt::format("{}{}", i == 0 ? "" : i + 1 == runs.size() ? " and " : ", ", runs[i].metrics.rows.size());
  return fmt::format("{} run{}, {} epoch{}", runs.size(), runs.size() == 1 ? "" : "s", epochs,
                     runs.size() == 1 && runs[0].metrics.rows.size() == 1 ? "" : "s");
}

void run_plot(const PlotOptions& o) {
  std::vector<RunCurves> runs;
  for (const std::string& run : o.runs) runs.push_back(read_run(run));
  Image picture;
  try {
    picture = render_chart_panels(training_curve_panels(runs, o.width, o.height));
  } catch (const Error& e) {
    // Too small a picture for the panels (many runs make the legends taller): name the flags.
    ASLNET_CHECK(false) << "--width " << o.width << " --height " << o.height << ": " << e.message();
  }
  write_png(o.out, picture, "--out");
  fmt::print("wrote {}: {}\n", o.out, summary(runs));
}

}  // namespace

void register_plot(CLI::App& app) {
  auto o = std::make_shared<PlotOptions>();
  auto* cmd = app.add_subcommand(
      "plot", "Draw training curves (loss, accuracy, learning rate per epoch) of one or more runs into a PNG");
  cmd->add_option("runs", o->runs, "run folders of aslnet train (their metrics.csv), or metrics.csv files")->required();
  cmd->add_option("--out", o->out, "the PNG to write");
  cmd->add_option("--width", o->width, "picture width in pixels")->check(in_range(400, 8000));
  cmd->add_option("--height", o->height, "picture height in pixels (three panels)")->check(in_range(720, 8000));
  cmd->callback([o] { run_plot(*o); });
}

}  // namespace aslnet::app
