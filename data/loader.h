// The loader: worker threads decode, augment and normalise images into a ring of host buffers (pinned
// through CUDA when a GPU is present, so copies to the device can be asynchronous; aligned memory
// otherwise), whole batches at a time, several batches ahead of the trainer.
//
// Determinism: every sample's random choices come from its own stream, seeded by (seed, epoch, sample
// index; with a source mix, its position in the epoch, since a sample may be drawn twice), and each sample
// lands at a fixed row of a fixed batch, so the batches are identical whatever the number of threads or
// their timing. Batch mixing (mixup, cutmix) draws from a stream per (seed, epoch, batch), on the
// caller's thread once the batch is complete.
//
// Bad files: a file that cannot be read or decoded is skipped, never fatal: its row is filled with the
// next sample in the data set that decodes (so batches stay full and deterministic), and the path is
// recorded for the epoch's summary.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "data/compose.h"
#include "data/dataset_index.h"
#include "data/mix.h"
#include "data/sampler.h"
#include "data/source_mix.h"
#include "data/transforms.h"
#include "data/tta.h"
#include "engine/core/batch_source.h"

namespace aslnet {

struct LoaderOptions {
  int64_t batch = 64;
  int image_size = 64;
  bool train = true;  // augmentation and shuffling; false: evaluation transform, dataset order
  // Evaluation only: which view of each photo (data/tta.h; test-time augmentation makes one pass per view).
  EvalView view = EvalView::centre;
  AugmentOptions augment;
  Normalization norm;
  DType dtype = DType::F32;  // f32, bf16, or u8 (raw pixels, normalised later on the GPU)
  uint64_t seed = 0;
  int threads = 0;   // 0: every core
  int prefetch = 3;  // batches prepared ahead of the one in use
  // Training drops the epoch's incomplete last batch; evaluation pads it (Batch::valid says how much
  // is real) so every sample is seen exactly once.
  bool drop_last = true;
  ShardSpec shard;
  // Training from several sources (data/source_mix.h): each epoch draws every source's share of rows
  // from the index's sources, laid out source after source. Null: every sample once an epoch.
  std::shared_ptr<const SourceMix> source_mix;
  // Mixup / CutMix (data/mix.h), applied to each training batch as a whole once it is complete; the
  // batch then carries soft targets (Batch::targets).
  MixOptions batch_mix;
  // Composition (data/compose.h): training samples of the sources marked here whose photo is a hand on
  // a uniform dark background are, with `probability`, cut out and pasted onto one of `backgrounds`
  // (image files) or, with `clutter_probability` or when there are none, onto generated clutter.
  struct Composition {
    std::vector<bool> sources;  // by Sample::source; empty: none
    std::vector<std::string> backgrounds;
    double probability = 1.0, clutter_probability = 0.3;
    ComposeOptions options;
    bool applies_to(int32_t source) const {
      return source >= 0 && size_t(source) < sources.size() && sources[size_t(source)];
    }
  } composition;
};

class Loader : public BatchSource {
 public:
  Loader(DatasetIndex index, LoaderOptions options);
  ~Loader() override;
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  int64_t batches_per_epoch() const override { return batches_; }
  void start_epoch(int64_t epoch) override;
  bool next(Batch& batch) override;

  const DatasetIndex& index() const { return index_; }
  const LoaderOptions& options() const { return options_; }
  // Files that failed to decode since the loader was made, sorted.
  std::vector<std::string> skipped_files() const;
  // Dataset indices of the rows of the batch last returned (padding rows included).
  const std::vector<int64_t>& last_batch_samples() const { return last_samples_; }

 private:
  struct Slot {
    Buffer images, labels, targets;  // targets: only with batch_mix
  };
  void worker();
  // Decodes, transforms and normalises `sample` (or, when it cannot be read, the next one that can)
  // into row `position` of `slot`, its random choices drawn from stream `stream` of the epoch;
  // unreadable paths are appended to `bad`.
  void fill_row(Slot& slot, int64_t position, int64_t sample, int64_t stream, int64_t epoch,
                std::vector<std::string>& bad);
  // The decoded training image composited onto a background (LoaderOptions::composition), or itself.
  Image compose(const Image& decoded, int min_side, Rng& rng) const;
  void stop_workers();
  void rethrow_worker_error();  // with mutex_ held

  DatasetIndex index_;
  LoaderOptions options_;
  DistributedSampler sampler_;
  int64_t batches_ = 0;
  size_t image_bytes_ = 0;
  std::vector<Slot> ring_;

  mutable std::mutex mutex_;
  std::condition_variable work_ready_, batch_ready_;
  std::vector<std::thread> workers_;
  bool stopping_ = false;
  int64_t epoch_ = -1;
  std::vector<int64_t> order_;      // this epoch's sample of each row, batch after batch
  std::vector<int64_t> streams_;    // the random stream of each row: its sample, or with a source
                                    // mix its position in the epoch (a sample may come twice)
  int64_t rows_ = 0;                // rows in this epoch (batches_ * batch)
  int64_t valid_rows_ = 0;          // rows that are not padding
  int64_t claimed_ = 0;             // rows handed to workers
  int64_t in_flight_ = 0;           // rows being filled right now
  std::vector<int64_t> remaining_;  // per ring slot: rows still to fill
  int64_t next_batch_ = 0;          // the batch next() returns next
  int64_t released_ = 0;            // batches whose slot may be reused
  std::set<std::string> skipped_;
  std::exception_ptr error_;  // a worker's failure, rethrown by next()
  std::vector<int64_t> last_samples_;
};

}  // namespace aslnet
