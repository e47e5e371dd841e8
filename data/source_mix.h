// Which samples an epoch draws from each training source. With sources of very different sizes (1,500
// real photos beside 87,000 video frames) an epoch that reads every file once drowns the small source;
// a weight per source sets its share of each epoch instead. Source s (n_s files, weight w_s) gets
// round(N * w_s / sum w) of the epoch's N rows (N: every source's files, so the epoch length does not
// change), the rounding remainder going to the largest fractions so the counts add up to N exactly.
//
// A source drawn more often than it has files repeats; one drawn less often is subsampled: its draws walk
// an endless chain of seeded permutations of its files, so within any n_s consecutive draws every file
// appears once, and consecutive epochs continue where the last one stopped (a small source oversampled 10x
// shows each file 10 times an epoch, a large one subsampled to 10% shows each file once every 10 epochs).
// Without weights, every file appears exactly once an epoch, in the merged index's order (the sampler
// shuffles), which is what a single source always did.
#pragma once

#include <cstdint>
#include <vector>

namespace aslnet {

class SourceMix {
 public:
  // sizes: files per source, in the merged index's order (source 0's files first); weights: one per
  // source (> 0), or empty for "proportional to size".
  SourceMix(std::vector<int64_t> sizes, std::vector<double> weights, uint64_t seed);

  int64_t epoch_size() const { return epoch_size_; }
  // Rows of each epoch drawn from each source.
  const std::vector<int64_t>& draws() const { return draws_; }
  // The epoch's samples (indices into the merged index), source by source, before shuffling.
  std::vector<int64_t> epoch_samples(int64_t epoch) const;

 private:
  std::vector<int64_t> sizes_, offsets_, draws_;
  int64_t epoch_size_ = 0;
  uint64_t seed_;
  bool identity_ = false;
};

}  // namespace aslnet
