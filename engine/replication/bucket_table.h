// The bucket table (aslnet train --print-buckets): how the gradient reducer cut the gradient arena into
// all-reduce buckets, and which layer's backward completed each one. One row per bucket, in the order
// the buckets are all-reduced: its index, how many parameters it holds, its bytes, its first and last
// parameters in arena order, and the layer whose backward reported the bucket's last missing gradient
// in the last backward the reducer all-reduced. That column is observed, not predicted (a residual
// block's shortcut finishes after its main branch, though it sits in front of it in the arena), so the
// table is only complete after one reduced backward; before it the column reads "-".
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/replication/gradient_reducer.h"

namespace aslnet {

struct BucketRow {
  int index = 0;
  int parameters = 0;
  int64_t bytes = 0;
  std::string first, last;  // parameter names: "fc.bias", "layer4.1.bn2.weight"
  // A layer ("layer4.1.bn2"); "end of backward (unused: NAMES)" when finish() completed it by counting
  // unused parameters as zero (--find-unused); "-" before any reduced backward.
  std::string completed_by;
};

std::vector<BucketRow> bucket_rows(const GradientReducer& reducer);
// The rows as aligned text, under a header line; one line per bucket, each ending in a newline.
std::string bucket_table(const GradientReducer& reducer);
// The layer a parameter belongs to: its name without the last part ("layer4.1.conv2.weight" ->
// "layer4.1.conv2").
std::string layer_of(const std::string& parameter);

}  // namespace aslnet
