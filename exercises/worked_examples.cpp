// The parts of the exercises that are given: the reducer's issue policy and SyncBatchNorm's forward.
#include <cmath>

#include "exercises/exercises.h"

namespace aslnet::exercises {

std::vector<int> IndexOrderPolicy::bucket_complete(int bucket) {
  if (complete_.empty()) complete_.assign(size_t(buckets_), 0);
  complete_[size_t(bucket)] = 1;
  // A bucket that completes early waits for every bucket in front of it: all ranks then start the same
  // buckets in the same order, whatever order their backward finished them in.
  std::vector<int> start;
  while (next_ < buckets_ && complete_[size_t(next_)]) start.push_back(next_++);
  return start;
}

SyncBatchNormSaved sync_batch_norm_forward(std::span<const float> x, int64_t channels, std::span<const float> gamma,
                                           std::span<const float> beta, double eps,
                                           const std::function<void(std::vector<double>&)>& sum_over_replicas,
                                           std::span<float> y) {
  const int64_t rows = int64_t(x.size()) / channels;
  // One all-reduce for the three statistics: per channel the sum and the sum of squares of this
  // replica's rows, and its row count (replicas may hold different numbers of rows).
  std::vector<double> sums(size_t(2 * channels + 1), 0.0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < channels; ++c) {
      const double v = x[size_t(r * channels + c)];
      sums[size_t(c)] += v;
      sums[size_t(channels + c)] += v * v;
    }
  sums[size_t(2 * channels)] = double(rows);
  sum_over_replicas(sums);

  SyncBatchNormSaved saved;
  saved.global_rows = int64_t(sums[size_t(2 * channels)]);
  const double n = double(saved.global_rows);
  for (int64_t c = 0; c < channels; ++c) {
    const double mean = sums[size_t(c)] / n;
    const double var = std::max(0.0, sums[size_t(channels + c)] / n - mean * mean);  // biased, as torch normalises
    saved.mean.push_back(mean);
    saved.invstd.push_back(1.0 / std::sqrt(var + eps));
  }
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < channels; ++c) {
      const size_t i = size_t(r * channels + c);
      y[i] = float((x[i] - saved.mean[size_t(c)]) * saved.invstd[size_t(c)] * gamma[size_t(c)] + beta[size_t(c)]);
    }
  return saved;
}

}  // namespace aslnet::exercises
