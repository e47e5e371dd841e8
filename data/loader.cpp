#include "data/loader.h"

#include <algorithm>
#include <cstring>
#include <exception>

#include "data/jpeg.h"
#include "engine/core/context.h"

namespace aslnet {

namespace {
// After this many unreadable files in a row, the data set (or the disk) is broken: stop and say so.
constexpr int kMaxConsecutiveBadFiles = 64;
}  // namespace

Loader::Loader(DatasetIndex index, LoaderOptions options)
    : index_(std::move(index)),
      options_(std::move(options)),
      sampler_(options_.source_mix ? options_.source_mix->epoch_size() : int64_t(index_.samples.size()), options_.shard,
               options_.train, options_.seed, options_.drop_last) {
  ASLNET_CHECK(!index_.samples.empty()) << "data folder " << index_.root << " holds no images";
  if (options_.source_mix) {
    int64_t mixed = 0;
    for (int64_t n : options_.source_mix->draws()) mixed += n;
    ASLNET_CHECK(options_.source_mix->epoch_size() == int64_t(index_.samples.size()) &&
                 mixed == options_.source_mix->epoch_size())
        << "the source mix describes " << options_.source_mix->epoch_size() << " samples, the index holds "
        << index_.samples.size();
  }
  ASLNET_CHECK(options_.batch > 0) << "--batch must be positive, got " << options_.batch;
  ASLNET_CHECK(options_.image_size >= 8) << "--image-size must be at least 8, got " << options_.image_size;
  options_.batch_mix.check();
  ASLNET_CHECK(!options_.batch_mix.enabled() || options_.train) << "mixup and cutmix are for training batches only";
  ASLNET_CHECK(options_.dtype == DType::F32 || options_.dtype == DType::BF16 || options_.dtype == DType::U8)
      << "the loader writes f32, bf16 or u8 batches, not " << dtype_name(options_.dtype);
  const int64_t per_replica = sampler_.per_replica();
  batches_ = options_.drop_last ? per_replica / options_.batch : (per_replica + options_.batch - 1) / options_.batch;
  ASLNET_CHECK(batches_ > 0) << "the data (" << per_replica << " images per replica) is smaller than one batch of "
                             << options_.batch << " (hint: a smaller --batch)";

  image_bytes_ = size_t(options_.image_size) * options_.image_size * 3 * dtype_size(options_.dtype);
  // Pinned memory lets the trainer copy batches to a GPU asynchronously; without a GPU, plain memory.
  const bool pin = gpu_count() > 0;
  ring_.resize(size_t(std::max(1, options_.prefetch) + 1));
  for (Slot& slot : ring_) {
    const size_t image_bytes = image_bytes_ * size_t(options_.batch), label_bytes = 4 * size_t(options_.batch);
    slot.images = pin ? Buffer::pinned(image_bytes) : Buffer::host(image_bytes);
    slot.labels = pin ? Buffer::pinned(label_bytes) : Buffer::host(label_bytes);
    if (options_.batch_mix.enabled()) {
      const size_t target_bytes = 4 * size_t(options_.batch) * index_.classes.size();
      slot.targets = pin ? Buffer::pinned(target_bytes) : Buffer::host(target_bytes);
    }
  }
  remaining_.assign(ring_.size(), 0);

  const int threads = options_.threads > 0 ? options_.threads : Context::cpu_threads();
  for (int i = 0; i < threads; ++i) workers_.emplace_back([this] { worker(); });
}

Loader::~Loader() { stop_workers(); }

void Loader::stop_workers() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  work_ready_.notify_all();
  for (auto& t : workers_) t.join();
  workers_.clear();
}

void Loader::start_epoch(int64_t epoch) {
  std::unique_lock<std::mutex> lock(mutex_);
  rethrow_worker_error();
  // Stop handing out rows of the previous epoch, and let the rows in flight finish.
  rows_ = claimed_;
  batch_ready_.wait(lock, [&] { return in_flight_ == 0; });

  const std::vector<int64_t> indices = sampler_.indices(epoch);
  const int64_t count = int64_t(indices.size());
  rows_ = batches_ * options_.batch;
  order_.resize(size_t(rows_));
  streams_.resize(size_t(rows_));
  const std::vector<int64_t> mixed =
      options_.source_mix ? options_.source_mix->epoch_samples(epoch) : std::vector<int64_t>{};
  // Rows past the end (evaluation's padded last batch) repeat the epoch's first samples.
  for (int64_t row = 0; row < rows_; ++row) {
    const int64_t drawn = indices[size_t(row % count)];
    order_[size_t(row)] = options_.source_mix ? mixed[size_t(drawn)] : drawn;
    streams_[size_t(row)] = drawn;
  }
  valid_rows_ = std::min(rows_, count);
  epoch_ = epoch;
  claimed_ = 0;
  next_batch_ = 0;
  released_ = 0;
  for (size_t s = 0; s < ring_.size(); ++s) remaining_[s] = int64_t(s) < batches_ ? options_.batch : 0;
  lock.unlock();
  work_ready_.notify_all();
}

bool Loader::next(Batch& batch) {
  std::unique_lock<std::mutex> lock(mutex_);
  ASLNET_CHECK(epoch_ >= 0) << "Loader::start_epoch must come before next()";
  if (released_ < next_batch_) {
    // The caller is done with the previous batch: its slot can take the batch `ring` places later.
    const int64_t previous = next_batch_ - 1;
    released_ = next_batch_;
    if (previous + int64_t(ring_.size()) < batches_) remaining_[size_t(previous) % ring_.size()] = options_.batch;
    work_ready_.notify_all();
  }
  if (next_batch_ >= batches_) return false;
  const int64_t b = next_batch_;
  const size_t slot = size_t(b) % ring_.size();
  batch_ready_.wait(lock, [&] { return remaining_[slot] == 0 || error_; });
  rethrow_worker_error();
  ++next_batch_;
  const int64_t size = options_.image_size;
  batch.images = Tensor::view(ring_[slot].images.data(), Shape{options_.batch, size, size, 3}, options_.dtype);
  batch.labels = Tensor::view(ring_[slot].labels.data(), Shape{options_.batch}, DType::I32);
  batch.valid = std::min(options_.batch, valid_rows_ - b * options_.batch);
  batch.targets = Tensor();
  batch.norm = options_.norm;
  last_samples_.assign(order_.begin() + b * options_.batch, order_.begin() + (b + 1) * options_.batch);
  const int64_t epoch = epoch_;
  lock.unlock();  // the slot is the caller's until the next call: workers leave it alone
  if (options_.batch_mix.enabled()) {
    // The whole batch is here: mix it in place (cheap beside decoding it) with the batch's own stream.
    const int classes = int(index_.classes.size());
    Rng rng = mix_rng(options_.seed, epoch, b);
    mix_batch(ring_[slot].images.data(), options_.dtype, options_.batch, int(size), batch.labels.data<int32_t>(),
              classes, static_cast<float*>(ring_[slot].targets.data()), batch.labels.data<int32_t>(),
              options_.batch_mix, rng);
    batch.targets = Tensor::view(ring_[slot].targets.data(), Shape{options_.batch, classes}, DType::F32);
  }
  return true;
}

void Loader::rethrow_worker_error() {
  if (error_) {
    std::exception_ptr e = error_;
    error_ = nullptr;
    std::rethrow_exception(e);
  }
}

std::vector<std::string> Loader::skipped_files() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return {skipped_.begin(), skipped_.end()};
}

void Loader::worker() {
  for (;;) {
    int64_t row, sample, stream, epoch;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      // A row may be filled once its batch's slot is free: at most ring-size batches ahead of the caller.
      work_ready_.wait(lock, [&] {
        return stopping_ || (claimed_ < rows_ && claimed_ / options_.batch < released_ + int64_t(ring_.size()));
      });
      if (stopping_) return;
      row = claimed_++;
      ++in_flight_;
      sample = order_[size_t(row)];
      stream = streams_[size_t(row)];
      epoch = epoch_;
    }
    const int64_t b = row / options_.batch;
    Slot& slot = ring_[size_t(b) % ring_.size()];
    std::vector<std::string> bad;
    std::exception_ptr error;
    try {
      fill_row(slot, row % options_.batch, sample, stream, epoch, bad);
    } catch (...) {
      error = std::current_exception();
    }
    bool wake = false;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!bad.empty()) skipped_.insert(bad.begin(), bad.end());
      if (error && !error_) error_ = error;
      --in_flight_;
      // Wake the consumer only when what it may be waiting for happened: its batch is complete, the
      // epoch's rows in flight are done, or a worker failed. Waking it for every row costs a context
      // switch per image on a 2-core machine.
      wake = --remaining_[size_t(b) % ring_.size()] == 0 || in_flight_ == 0 || error;
    }
    if (wake) batch_ready_.notify_all();
  }
}

Image Loader::compose(const Image& decoded, int min_side, Rng& rng) const {
  const LoaderOptions::Composition& c = options_.composition;
  if (rng.uniform() >= c.probability) return decoded;
  thread_local std::vector<uint8_t> mask;
  if (!hand_mask(decoded, c.options.threshold, mask)) return decoded;  // not a hand on a dark background
  Image background;
  if (!c.backgrounds.empty() && rng.uniform() >= c.clutter_probability) {
    thread_local JpegDecoder background_decoder;
    const std::string& path = c.backgrounds[size_t(rng.below(c.backgrounds.size()))];
    try {
      background = background_decoder.decode_file(path, min_side, min_side);
    } catch (const DecodeError&) {
      background = Image();  // an unreadable background: clutter instead (the training image is fine)
    }
  }
  if (background.pixels.empty()) background = generated_clutter(decoded.width, decoded.height, rng);
  return compose_on_background(decoded, mask, background, c.options, rng);
}

void Loader::fill_row(Slot& slot, int64_t position, int64_t sample, int64_t stream, int64_t epoch,
                      std::vector<std::string>& bad) {
  thread_local JpegDecoder decoder;
  const int size = options_.image_size;
  const int min_side = options_.train && options_.augment.random_resized_crop
                           ? min_decode_side(size, true, options_.augment.crop_scale_min)
                           : min_decode_side(size, options_.train);
  const int64_t count = int64_t(index_.samples.size());
  for (int attempt = 0; attempt < kMaxConsecutiveBadFiles; ++attempt) {
    const Sample& s = index_.samples[size_t((sample + attempt) % count)];
    Image decoded;
    try {
      decoded = decoder.decode_file(s.path, min_side, min_side);
    } catch (const DecodeError&) {
      bad.push_back(s.path);
      if (options_.train) continue;  // training takes the next readable sample
      // Evaluation scores every file once or not at all: a stand-in would be counted as this file.
      std::memset(static_cast<uint8_t*>(slot.images.data()) + size_t(position) * image_bytes_, 0, image_bytes_);
      static_cast<int32_t*>(slot.labels.data())[position] = kUnreadableLabel;
      return;
    }
    // The sample's own random stream: the same choices whichever thread makes it, in whatever order.
    Rng rng(options_.seed ^ (0x9e3779b97f4a7c15ull * uint64_t(epoch + 1)), uint64_t(stream));
    if (options_.train && options_.composition.applies_to(s.source)) decoded = compose(decoded, min_side, rng);
    const Image image = options_.train ? train_transform(decoded, size, options_.augment, rng)
                                       : eval_view(decoded, size, options_.view);
    normalize_into(image, options_.norm, options_.dtype,
                   static_cast<uint8_t*>(slot.images.data()) + size_t(position) * image_bytes_);
    static_cast<int32_t*>(slot.labels.data())[position] = s.label;
    return;
  }
  ASLNET_CHECK(false) << kMaxConsecutiveBadFiles << " unreadable images in a row from "
                      << index_.samples[size_t(sample)].path << ": is the data set damaged? (aslnet check-data "
                      << index_.root << " lists every problem)";
}

}  // namespace aslnet
