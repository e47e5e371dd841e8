// OUT/metrics.csv: one row per finished epoch of `aslnet train` (written by the lead replica's reporter
// and flushed after each row, so a user can watch it or plot it mid-run), read back by `aslnet plot`.
// Plain CSV a spreadsheet opens: a header, then numbers; an empty cell is a figure the epoch did not
// measure (no validation, no --ema). Accuracies are fractions, as in log.jsonl. The columns are named
// here and nowhere else.
#pragma once

#include <cmath>
#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

namespace aslnet {

// Column names the plot reads.
namespace metrics_column {
constexpr const char* kEpoch = "epoch";
constexpr const char* kTrainLoss = "train_loss";
constexpr const char* kTrainAccuracy = "train_acc";
constexpr const char* kValLoss = "val_loss";
constexpr const char* kValAccuracy = "val_acc";
constexpr const char* kEmaValAccuracy = "ema_val_acc";
constexpr const char* kLearningRate = "lr";
}  // namespace metrics_column

// One epoch's row. NaN: not measured (an empty cell).
struct EpochMetrics {
  int64_t epoch = 0;  // from 1
  double train_loss = NAN, train_accuracy = NAN;
  double val_loss = NAN, val_accuracy = NAN;  // over every validation set together
  double ema_val_accuracy = NAN;              // the moving average of the weights (--ema)
  double lr = NAN;                            // at the epoch's last step
  double images_per_second = NAN;             // training images (all replicas) over the epoch's training time
  double seconds = NAN, elapsed_seconds = NAN;
  std::vector<double> set_accuracy;  // each named validation set's, in the order given to metrics_columns
};

// The header: the fixed columns, then val_<name>_acc for each validation set when there are several
// (with one, it would repeat val_acc). Characters other than letters, digits, '-' and '_' in a name
// become '_', so no cell needs quoting.
std::vector<std::string> metrics_columns(const std::vector<std::string>& set_names);

// A metrics.csv read back: every cell a number, NaN where empty.
struct MetricsTable {
  std::string path;
  std::vector<std::string> columns;
  std::vector<std::vector<double>> rows;
  // The index of column `name`, or -1.
  int find(const std::string& name) const;
  // Column `name` (an Error naming the file when the header has none).
  std::vector<double> column(const std::string& name) const;
};

// Reads and checks a metrics.csv: an Error naming the file (and the line) when it is missing, empty,
// or a row's cells are not numbers or not as many as the header's; the first column must be the epoch.
MetricsTable read_metrics_csv(const std::string& path);

// Writes OUT/metrics.csv a row at a time. A resumed run keeps the rows of the epochs its checkpoint
// finished and drops the later ones (those of the interrupted run past the checkpoint), so the file
// stays one row per epoch.
class MetricsWriter {
 public:
  // A new file at `path` (replacing any) with `columns`' header.
  MetricsWriter(const std::string& path, std::vector<std::string> columns);
  // A resumed run's file: the rows of epochs 1..`kept_epochs` of `previous` (the interrupted run's
  // metrics.csv, often `path` itself; it need not exist) come first. `note` says when they could not
  // be kept (another header, a damaged file), in which case the file starts afresh.
  MetricsWriter(const std::string& path, std::vector<std::string> columns, const std::string& previous,
                int64_t kept_epochs, std::string& note);

  void append(const EpochMetrics& m);  // one row, flushed
  // The elapsed seconds of the last row kept from the interrupted run (0 for a new file): a resumed
  // run's clock continues from it.
  double elapsed_before() const { return elapsed_before_; }

 private:
  void open(const std::vector<std::vector<double>>& kept);

  std::string path_;
  std::vector<std::string> columns_;
  std::ofstream out_;
  double elapsed_before_ = 0.0;
};

}  // namespace aslnet
