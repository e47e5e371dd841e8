#include "engine/replication/bucket_table.h"

#include <fmt/core.h>

#include <algorithm>

namespace aslnet {

std::string layer_of(const std::string& parameter) {
  const size_t dot = parameter.rfind('.');
  return dot == std::string::npos ? parameter : parameter.substr(0, dot);
}

std::vector<BucketRow> bucket_rows(const GradientReducer& reducer) {
  std::vector<BucketRow> rows;
  const auto& buckets = reducer.buckets();
  for (size_t b = 0; b < buckets.size(); ++b) {
    const GradientBucket& bucket = buckets[b];
    BucketRow row{int(b), bucket.parameters, bucket.bytes, bucket.first->name, bucket.last->name, "-"};
    if (const Parameter* p = reducer.completed_by(int(b)); p != nullptr) {
      row.completed_by = layer_of(p->name);
    } else {
      // Completed by finish() marking unused parameters ready: name the ones of this bucket. The
      // buckets tile the arena, so a parameter is in this bucket when its gradient lies in its range.
      std::string names;
      for (const Parameter* u : reducer.unused()) {
        const auto* at = static_cast<const char*>(u->grad.raw());
        const auto* begin = static_cast<const char*>(bucket.first->grad.raw());
        if (at >= begin && at <= static_cast<const char*>(bucket.last->grad.raw()))
          names += (names.empty() ? "" : ", ") + u->name;
      }
      if (!names.empty()) row.completed_by = "end of backward (unused: " + names + ")";
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

std::string bucket_table(const GradientReducer& reducer) {
  const std::vector<BucketRow> rows = bucket_rows(reducer);
  size_t first = 15, last = 14;  // the headers' widths
  for (const BucketRow& r : rows) {
    first = std::max(first, r.first.size());
    last = std::max(last, r.last.size());
  }
  std::string text = fmt::format("{:>6}  {:>6}  {:>12}  {:<{}}  {:<{}}  {}\n", "bucket", "params", "bytes",
                                 "first parameter", first, "last parameter", last, "completed by");
  for (const BucketRow& r : rows)
    text += fmt::format("{:>6}  {:>6}  {:>12}  {:<{}}  {:<{}}  {}\n", r.index, r.parameters, r.bytes, r.first, first,
                        r.last, last, r.completed_by);
  return text;
}

}  // namespace aslnet
