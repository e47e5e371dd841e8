#include "data/source_mix.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "engine/core/error.h"
#include "engine/core/rng.h"

namespace aslnet {

namespace {
constexpr uint64_t kMixTag = 0x6d69780000000000ull;  // "mix": apart from the other users of the seed
}  // namespace

SourceMix::SourceMix(std::vector<int64_t> sizes, std::vector<double> weights, uint64_t seed)
    : sizes_(std::move(sizes)), seed_(seed) {
  ASLNET_CHECK(!sizes_.empty()) << "no training source";
  ASLNET_CHECK(weights.empty() || weights.size() == sizes_.size())
      << "--source-weight gives " << weights.size() << " weights for " << sizes_.size()
      << " training sources (one per source, in the order given)";
  for (int64_t n : sizes_) ASLNET_CHECK(n > 0) << "a training source holds no images";
  for (double w : weights)
    ASLNET_CHECK(std::isfinite(w) && w > 0) << "--source-weight: every weight must be positive, got " << w;
  epoch_size_ = std::accumulate(sizes_.begin(), sizes_.end(), int64_t(0));
  offsets_.resize(sizes_.size());
  for (size_t s = 1; s < sizes_.size(); ++s) offsets_[s] = offsets_[s - 1] + sizes_[s - 1];
  if (weights.empty()) {
    identity_ = true;
    draws_ = sizes_;
    return;
  }
  // Largest remainder: floor shares, then one more row to the sources with the largest fractions.
  const double total = std::accumulate(weights.begin(), weights.end(), 0.0);
  std::vector<double> exact(sizes_.size());
  draws_.resize(sizes_.size());
  int64_t assigned = 0;
  for (size_t s = 0; s < sizes_.size(); ++s) {
    exact[s] = double(epoch_size_) * weights[s] / total;
    draws_[s] = int64_t(std::floor(exact[s]));
    assigned += draws_[s];
  }
  std::vector<size_t> order(sizes_.size());
  std::iota(order.begin(), order.end(), size_t(0));
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return exact[a] - double(draws_[a]) > exact[b] - double(draws_[b]); });
  for (size_t k = 0; assigned < epoch_size_; ++k, ++assigned) ++draws_[order[k % order.size()]];
}

std::vector<int64_t> SourceMix::epoch_samples(int64_t epoch) const {
  std::vector<int64_t> out;
  out.reserve(size_t(epoch_size_));
  if (identity_) {
    for (int64_t i = 0; i < epoch_size_; ++i) out.push_back(i);
    return out;
  }
  for (size_t s = 0; s < sizes_.size(); ++s) {
    const int64_t n = sizes_[s];
    // Draw positions [epoch * d, (epoch + 1) * d) of the source's endless chain of permutations.
    const int64_t first = epoch * draws_[s], last = first + draws_[s];
    std::vector<int64_t> perm;
    int64_t perm_cycle = -1;
    for (int64_t p = first; p < last; ++p) {
      const int64_t cycle = p / n;
      if (cycle != perm_cycle) {
        Rng rng(seed_ ^ kMixTag, uint64_t(s) * 0x100000001b3ull + uint64_t(cycle));
        perm.resize(size_t(n));
        std::iota(perm.begin(), perm.end(), int64_t(0));
        for (int64_t i = n; i > 1; --i) std::swap(perm[size_t(i - 1)], perm[size_t(rng.below(uint64_t(i)))]);
        perm_cycle = cycle;
      }
      out.push_back(offsets_[s] + perm[size_t(p % n)]);
    }
  }
  return out;
}

}  // namespace aslnet
