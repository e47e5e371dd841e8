// OUT/metrics.csv: see metrics_csv.h.
#include "report/metrics_csv.h"

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "engine/core/error.h"

namespace aslnet {

namespace {

using namespace metrics_column;

// The fixed columns, in order; set columns follow.
const std::vector<std::string>& fixed_columns() {
  static const std::vector<std::string> columns = {kEpoch,       kTrainLoss,      kTrainAccuracy, kValLoss,
                                                   kValAccuracy, kEmaValAccuracy, kLearningRate,  "images_per_s",
                                                   "epoch_s",    "elapsed_s"};
  return columns;
}

std::string set_column(const std::string& name) {
  std::string safe = name;
  for (char& c : safe)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') c = '_';
  return "val_" + safe + "_acc";
}

// A cell: empty for NaN, else `format` ("%.6g": enough for a curve, short enough to read).
std::string cell(double v, const char* format = "%.6g") {
  if (std::isnan(v)) return "";
  char text[64];
  std::snprintf(text, sizeof text, format, v);
  return text;
}

std::string join(const std::vector<std::string>& cells) {
  std::string line;
  for (size_t i = 0; i < cells.size(); ++i) line += (i ? "," : "") + cells[i];
  return line + "\n";
}

std::vector<std::string> split(const std::string& line) {
  std::vector<std::string> cells(1);
  for (char c : line) {
    if (c == ',')
      cells.emplace_back();
    else
      cells.back() += c;
  }
  return cells;
}

}  // namespace

std::vector<std::string> metrics_columns(const std::vector<std::string>& set_names) {
  std::vector<std::string> columns = fixed_columns();
  if (set_names.size() > 1)
    for (const std::string& name : set_names) columns.push_back(set_column(name));
  return columns;
}

int MetricsTable::find(const std::string& name) const {
  for (size_t i = 0; i < columns.size(); ++i)
    if (columns[i] == name) return int(i);
  return -1;
}

std::vector<double> MetricsTable::column(const std::string& name) const {
  const int c = find(name);
  ASLNET_CHECK(c >= 0) << path << ": no column '" << name << "' in its header (line 1)";
  std::vector<double> values;
  for (const auto& row : rows) values.push_back(row[size_t(c)]);
  return values;
}

MetricsTable read_metrics_csv(const std::string& path) {
  std::ifstream in(path);
  ASLNET_CHECK(in.is_open()) << "cannot read " << path;
  MetricsTable table;
  table.path = path;
  std::string line;
  int64_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    std::vector<std::string> cells = split(line);
    if (table.columns.empty()) {
      ASLNET_CHECK(cells[0] == kEpoch) << path << ":" << number << ": the header starts with '" << cells[0]
                                       << "', not '" << kEpoch << "' (not an aslnet metrics.csv)";
      table.columns = std::move(cells);
      continue;
    }
    ASLNET_CHECK(cells.size() == table.columns.size())
        << path << ":" << number << ": " << cells.size() << " cells, the header has " << table.columns.size();
    std::vector<double> row;
    for (size_t i = 0; i < cells.size(); ++i) {
      const std::string& text = cells[i];
      if (text.empty()) {
        row.push_back(NAN);
        continue;
      }
      char* end = nullptr;
      errno = 0;
      const double v = std::strtod(text.c_str(), &end);
      ASLNET_CHECK(end == text.c_str() + text.size() && errno == 0 && std::isfinite(v))
          << path << ":" << number << ": " << table.columns[i] << " is '" << text << "', not a number";
      row.push_back(v);
    }
    ASLNET_CHECK(row[0] >= 1 && row[0] == std::floor(row[0]))
        << path << ":" << number << ": epoch is '" << cells[0] << "', not an epoch number";
    table.rows.push_back(std::move(row));
  }
  ASLNET_CHECK(!in.bad()) << "cannot read " << path;
  ASLNET_CHECK(!table.columns.empty()) << path << " is empty";
  ASLNET_CHECK(!table.rows.empty()) << path << " has a header and no rows (no epoch has finished)";
  return table;
}

MetricsWriter::MetricsWriter(const std::string& path, std::vector<std::string> columns)
    : path_(path), columns_(std::move(columns)) {
  open({});
}

MetricsWriter::MetricsWriter(const std::string& path, std::vector<std::string> columns, const std::string& previous,
                             int64_t kept_epochs, std::string& note)
    : path_(path), columns_(std::move(columns)) {
  std::vector<std::vector<double>> kept;
  std::error_code error;
  if (kept_epochs > 0 && std::filesystem::exists(previous, error)) {
    try {
      const MetricsTable table = read_metrics_csv(previous);
      if (table.columns != columns_)
        note = previous + " has other columns than this run's (other validation sets?): " + path_ + " starts afresh";
      else
        for (const auto& row : table.rows)
          if (row[0] <= double(kept_epochs)) kept.push_back(row);
    } catch (const Error& e) {
      note = e.message() + ": " + path_ + " starts afresh";
    }
  }
  open(kept);
}

// Writes the header and the kept rows to a temporary file renamed over `path` (the interrupted run's file
// may be `path` itself, and a crash here must not lose it), then appends from there.
void MetricsWriter::open(const std::vector<std::vector<double>>& kept) {
  const std::string temporary = path_ + ".tmp";
  {
    std::ofstream start(temporary, std::ios::trunc);
    start << join(columns_);
    for (const auto& row : kept) {
      std::vector<std::string> cells;
      for (double v : row) cells.push_back(cell(v, "%.10g"));
      start << join(cells);
    }
    start.flush();
    ASLNET_CHECK(start.good()) << "cannot write " << temporary;
  }
  std::error_code error;
  std::filesystem::rename(temporary, path_, error);
  ASLNET_CHECK(!error) << "cannot write " << path_ << " (" << error.message() << ")";
  const int elapsed = int(fixed_columns().size()) - 1;
  if (!kept.empty() && !std::isnan(kept.back()[size_t(elapsed)])) elapsed_before_ = kept.back()[size_t(elapsed)];
  out_.open(path_, std::ios::app);
  ASLNET_CHECK(out_.is_open()) << "cannot write " << path_;
}

void MetricsWriter::append(const EpochMetrics& m) {
  std::vector<std::string> cells{std::to_string(m.epoch),
                                 cell(m.train_loss),
                                 cell(m.train_accuracy),
                                 cell(m.val_loss),
                                 cell(m.val_accuracy),
                                 cell(m.ema_val_accuracy),
                                 cell(m.lr),
                                 cell(m.images_per_second, "%.1f"),
                                 cell(m.seconds, "%.3f"),
                                 cell(m.elapsed_seconds, "%.3f")};
  ASLNET_CHECK(cells.size() + m.set_accuracy.size() == columns_.size())
      << path_ << ": a row of " << cells.size() + m.set_accuracy.size() << " cells for " << columns_.size()
      << " columns";
  for (double v : m.set_accuracy) cells.push_back(cell(v));
  out_ << join(cells);
  out_.flush();
  ASLNET_CHECK(out_.good()) << "cannot write " << path_;
}

}  // namespace aslnet
