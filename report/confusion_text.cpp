#include "report/confusion_text.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "engine/core/error.h"

namespace aslnet {

namespace {

constexpr size_t kCell = 3;  // a space and two characters: 29 classes take 87 columns

// `s` right-aligned in `width` characters.
std::string right(const std::string& s, size_t width) {
  return s.size() >= width ? s : std::string(width - s.size(), ' ') + s;
}

}  // namespace

std::vector<std::string> short_labels(const std::vector<std::string>& classes, size_t width) {
  std::vector<std::string> out;
  for (const auto& c : classes) out.push_back(c.substr(0, width));
  if (std::set<std::string>(out.begin(), out.end()).size() == out.size()) return out;
  for (size_t i = 0; i < classes.size(); ++i)
    if (classes[i].size() > width) out[i] = std::to_string(i).substr(0, width);
  return out;
}

std::string confusion_text(const std::vector<std::string>& classes, const std::vector<int64_t>& confusion,
                           int max_columns) {
  const size_t k = classes.size();
  ASLNET_CHECK(k > 0 && confusion.size() == k * k)
      << "confusion_text: " << k << " classes need a " << k << "x" << k << " matrix, got " << confusion.size()
      << " counts";
  const std::vector<std::string> heads = short_labels(classes, kCell - 1);
  size_t longest = 1;
  for (const auto& c : classes) longest = std::max(longest, c.size());
  // Full row names when they fit beside the cells, else the column heads.
  const bool full_rows = longest + k * kCell <= size_t(std::max(max_columns, 0));
  const std::vector<std::string>& row_names = full_rows ? classes : heads;
  size_t label_width = 1;
  for (const auto& r : row_names) label_width = std::max(label_width, r.size());

  const bool counts = *std::max_element(confusion.begin(), confusion.end()) <= 99;
  std::string out = std::string("confusion matrix (rows: true class, columns: predicted class; ") +
                    (counts ? "counts" : "% of the row's images") + ", . for none):\n";
  out += std::string(label_width, ' ');
  for (const auto& h : heads) out += right(h, kCell);
  out += "\n";
  for (size_t t = 0; t < k; ++t) {
    int64_t row_total = 0;
    for (size_t p = 0; p < k; ++p) row_total += confusion[t * k + p];
    if (row_total == 0) continue;
    out += right(row_names[t], label_width);
    for (size_t p = 0; p < k; ++p) {
      const int64_t n = confusion[t * k + p];
      std::string cell = ".";
      if (n > 0 && counts) cell = std::to_string(n);
      // A share is never shown as 0 (it is not none) nor as 100 unless it is the whole row.
      if (n > 0 && !counts)
        cell = n == row_total ? "100"
                              : std::to_string(std::clamp<int64_t>(
                                    std::llround(100.0 * double(n) / double(row_total)), 1, 99));
      out += right(cell, kCell);
    }
    out += "\n";
  }
  std::string legend;
  for (size_t i = 0; i < k; ++i)
    if (heads[i] != classes[i]) legend += (legend.empty() ? "" : ", ") + heads[i] + " = " + classes[i];
  if (!legend.empty()) out += "columns: " + legend + "\n";
  return out;
}

}  // namespace aslnet
