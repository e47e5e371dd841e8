// Reference solution of exercise 3: SyncBatchNorm's backward.
//
// With xhat = (x - mean) * invstd over the global batch of N rows, one batch norm's gradient is, per
// channel,
//   dbeta  = sum(dy)              dgamma = sum(dy * xhat)
//   dx     = gamma * invstd / N * (N * dy - dbeta - xhat * dgamma)
// where the sums run over all N rows. The rows are spread over the replicas, so each replica sums its
// own rows and one all-reduce of the 2 x channels sums gives every replica the global ones; each then
// writes dx for its own rows. (torch.nn.SyncBatchNorm's backward does the same: one all-reduce of
// sum_dy and sum_dy_xmu.)
#include "exercises/exercises.h"

namespace aslnet::exercises {

void sync_batch_norm_backward(std::span<const float> x, std::span<const float> dy, int64_t channels,
                              std::span<const float> gamma, const SyncBatchNormSaved& saved,
                              const std::function<void(std::vector<double>&)>& sum_over_replicas,
                              std::span<float> dx, std::span<float> dgamma, std::span<float> dbeta) {
  const int64_t rows = int64_t(x.size()) / channels;
  std::vector<double> sums(size_t(2 * channels), 0.0);  // sum(dy), then sum(dy * xhat), per channel
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < channels; ++c) {
      const size_t i = size_t(r * channels + c);
      const double xhat = (x[i] - saved.mean[size_t(c)]) * saved.invstd[size_t(c)];
      sums[size_t(c)] += dy[i];
      sums[size_t(channels + c)] += dy[i] * xhat;
    }
  sum_over_replicas(sums);

  const double n = double(saved.global_rows);
  for (int64_t c = 0; c < channels; ++c) {
    dbeta[size_t(c)] = float(sums[size_t(c)]);
    dgamma[size_t(c)] = float(sums[size_t(channels + c)]);
  }
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < channels; ++c) {
      const size_t i = size_t(r * channels + c);
      const double xhat = (x[i] - saved.mean[size_t(c)]) * saved.invstd[size_t(c)];
      dx[i] = float(gamma[size_t(c)] * saved.invstd[size_t(c)] / n *
                    (n * dy[i] - sums[size_t(c)] - xhat * sums[size_t(channels + c)]));
    }
}

}  // namespace aslnet::exercises
