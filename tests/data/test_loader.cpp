// The loader: whole batches identical whatever the number of worker threads (per-sample random streams
// from seed, epoch and index), different from one epoch to the next; evaluation sees every sample
// exactly once, the last batch padded; corrupt, truncated and non-JPEG files are skipped, counted and
// named, never fatal; shards of one epoch are disjoint and cover it.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "data/dataset_index.h"
#include "data/loader.h"
#include "data/synth.h"
#include "tests/test_util.h"

namespace aslnet {
namespace {

namespace fs = std::filesystem;

// A small synthetic data set, written once per test program and removed at its exit.
std::string synthetic_folder() {
  static const test::TempDir dir("aslnet_loader");
  static const bool written = [] {
    write_synthetic_dataset(dir.path.string(), {.per_class = 3, .size = 48, .seed = 5});
    return true;
  }();
  (void)written;
  return dir.path.string();
}

// Every batch of one epoch, images and labels as bytes.
std::vector<std::vector<uint8_t>> epoch_bytes(Loader& loader, int64_t epoch) {
  std::vector<std::vector<uint8_t>> out;
  loader.start_epoch(epoch);
  Batch b;
  while (loader.next(b)) {
    std::vector<uint8_t> bytes(b.images.bytes() + b.labels.bytes());
    std::memcpy(bytes.data(), b.images.raw(), b.images.bytes());
    std::memcpy(bytes.data() + b.images.bytes(), b.labels.raw(), b.labels.bytes());
    out.push_back(std::move(bytes));
  }
  return out;
}

LoaderOptions training_options(int threads) {
  LoaderOptions o;
  o.batch = 8;
  o.image_size = 32;
  o.train = true;
  o.augment.rotation_degrees = 10;
  o.augment.brightness = o.augment.contrast = o.augment.saturation = 0.2;
  o.seed = 11;
  o.threads = threads;
  return o;
}

TEST(Loader, BatchesDoNotDependOnTheThreadCount) {
  const DatasetIndex index = index_class_folders(synthetic_folder());
  Loader one(index, training_options(1)), two(index, training_options(2)), five(index, training_options(5));
  for (int64_t epoch : {0, 1}) {
    const auto a = epoch_bytes(one, epoch), b = epoch_bytes(two, epoch), c = epoch_bytes(five, epoch);
    ASSERT_EQ(a.size(), size_t(index.samples.size() / 8));  // drop_last in training
    EXPECT_TRUE(a == b) << "epoch " << epoch;
    EXPECT_TRUE(a == c) << "epoch " << epoch;
  }
  // Another epoch: another order and other augmentations.
  EXPECT_FALSE(epoch_bytes(one, 0) == epoch_bytes(one, 1));
  // The same epoch again: the same bytes.
  EXPECT_TRUE(epoch_bytes(two, 1) == epoch_bytes(five, 1));
}

TEST(Loader, EvaluationSeesEverySampleOnceAndPadsTheLastBatch) {
  const DatasetIndex index = index_class_folders(synthetic_folder());
  LoaderOptions o;
  o.batch = 10;
  o.image_size = 32;
  o.train = false;
  o.drop_last = false;
  o.threads = 2;
  for (DType dtype : {DType::F32, DType::BF16, DType::U8}) {
    o.dtype = dtype;
    Loader loader(index, o);
    loader.start_epoch(0);
    Batch b;
    std::map<int64_t, int> seen;
    int64_t valid = 0, batches = 0;
    while (loader.next(b)) {
      ++batches;
      EXPECT_EQ(b.images.dtype(), dtype);
      const auto& samples = loader.last_batch_samples();
      for (int64_t r = 0; r < b.valid; ++r) {
        ++seen[samples[size_t(r)]];
        EXPECT_EQ(b.labels.data<int32_t>()[r], index.samples[size_t(samples[size_t(r)])].label);
      }
      valid += b.valid;
    }
    EXPECT_EQ(valid, int64_t(index.samples.size()));
    EXPECT_EQ(batches, (int64_t(index.samples.size()) + 9) / 10);
    EXPECT_EQ(seen.size(), index.samples.size());
    for (const auto& [sample, count] : seen) EXPECT_EQ(count, 1) << sample;
  }
}

TEST(Loader, CorruptTruncatedAndNonJpegFilesAreSkippedAndNamed) {
  const test::TempDir temp("aslnet_loader_bad");
  ASSERT_FALSE(temp.path.empty());
  const fs::path dir = temp.path / "set";
  fs::copy(synthetic_folder(), dir, fs::copy_options::recursive);
  const fs::path truncated = dir / "A" / "A1.jpg", garbage = dir / "B" / "B2.jpg", text = dir / "C" / "C3.jpg";
  fs::resize_file(truncated, fs::file_size(truncated) / 3);
  {
    std::ofstream f(garbage, std::ios::binary | std::ios::trunc);
    for (int i = 0; i < 4000; ++i) f.put(char(i * 37));
  }
  {
    std::ofstream f(text, std::ios::trunc);
    f << "this is not a picture\n";
  }
  const DatasetIndex index = index_class_folders(dir.string());
  LoaderOptions o = training_options(2);
  o.train = false;
  o.drop_last = false;
  Loader loader(index, o);
  loader.start_epoch(0);
  Batch b;
  int64_t rows = 0;
  while (loader.next(b)) {
    for (int64_t r = 0; r < b.valid; ++r) {
      const int32_t label = b.labels.data<int32_t>()[r];
      EXPECT_TRUE(label >= 0 && label < 29);
      // A skipped file's row holds the next readable sample: real pixels, not zeros or NaN.
      const float* px = b.images.data<float>() + r * 32 * 32 * 3;
      double sum = 0;
      for (int i = 0; i < 32 * 32 * 3; ++i) sum += std::abs(px[i]);
      EXPECT_TRUE(std::isfinite(sum) && sum > 0);
    }
    rows += b.valid;
  }
  EXPECT_EQ(rows, int64_t(index.samples.size()));
  const std::vector<std::string> skipped = loader.skipped_files();
  const std::set<std::string> expected{truncated.string(), garbage.string(), text.string()};
  EXPECT_EQ(std::set<std::string>(skipped.begin(), skipped.end()), expected);
}

TEST(Loader, ShardsOfAnEpochAreDisjointAndCoverIt) {
  const DatasetIndex index = index_class_folders(synthetic_folder());
  std::map<int64_t, int> seen;
  int64_t per_shard = -1;
  for (int rank = 0; rank < 3; ++rank) {
    LoaderOptions o = training_options(2);
    o.drop_last = false;
    o.shard = {.rank = rank, .world_size = 3};
    Loader loader(index, o);
    loader.start_epoch(4);
    Batch b;
    int64_t rows = 0;
    while (loader.next(b)) {
      const auto& samples = loader.last_batch_samples();
      for (int64_t r = 0; r < b.valid; ++r) ++seen[samples[size_t(r)]];
      rows += b.valid;
    }
    if (per_shard >= 0) {
      EXPECT_EQ(rows, per_shard) << "shards must be equal in size";
    }
    per_shard = rows;
  }
  // DistributedSampler pads the epoch to a multiple of the shard count by repeating its first samples.
  EXPECT_EQ(seen.size(), index.samples.size());
  int repeats = 0;
  for (const auto& [sample, count] : seen) repeats += count - 1;
  EXPECT_EQ(repeats, int(3 * per_shard - int64_t(index.samples.size())));
}

}  // namespace
}  // namespace aslnet
