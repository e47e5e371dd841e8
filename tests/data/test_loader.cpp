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

// Raw u8 batches are normalised later (on the GPU): each batch says how.
TEST(Loader, BatchesCarryTheirNormalization) {
  LoaderOptions o;
  o.batch = 4;
  o.image_size = 16;
  o.threads = 1;
  o.dtype = DType::U8;
  o.norm.mean = {0.1f, 0.2f, 0.3f};
  o.norm.std = {0.4f, 0.5f, 0.6f};
  Loader loader(index_class_folders(synthetic_folder()), o);
  loader.start_epoch(0);
  Batch b;
  ASSERT_TRUE(loader.next(b));
  EXPECT_TRUE(b.norm == o.norm);
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
  int64_t rows = 0, unreadable = 0;
  while (loader.next(b)) {
    for (int64_t r = 0; r < b.valid; ++r) {
      const int32_t label = b.labels.data<int32_t>()[r];
      // Evaluation stands nothing in for an unreadable file (it would be counted as that file): its row
      // is marked and holds zeros; every other row holds its own photo's real pixels.
      const float* px = b.images.data<float>() + r * 32 * 32 * 3;
      double sum = 0;
      for (int i = 0; i < 32 * 32 * 3; ++i) sum += std::abs(px[i]);
      const std::string& path = index.samples[size_t(loader.last_batch_samples()[size_t(r)])].path;
      if (label == kUnreadableLabel) {
        ++unreadable;
        EXPECT_EQ(sum, 0.0) << path;
        EXPECT_TRUE(path == truncated.string() || path == garbage.string() || path == text.string()) << path;
      } else {
        EXPECT_TRUE(label >= 0 && label < 29);
        EXPECT_TRUE(std::isfinite(sum) && sum > 0) << path;
      }
    }
    rows += b.valid;
  }
  EXPECT_EQ(rows, int64_t(index.samples.size()));
  EXPECT_EQ(unreadable, 3);
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

namespace aslnet {
namespace {

// A source of "hands on black": a bright disc and bar per image on a black background, as Massey's
// segmented photos are, so that composition recognises and cuts them out.
std::string hands_on_black_folder() {
  static const test::TempDir dir("aslnet_loader_black");
  static const bool written = [] {
    for (const char* cls : {"A", "B"}) {
      for (int i = 0; i < 6; ++i) {
        Image image;
        image.width = image.height = 64;
        image.pixels.assign(64 * 64 * 3, 0);
        const int cx = 20 + 4 * i, cy = 30;
        for (int y = 0; y < 64; ++y)
          for (int x = 0; x < 64; ++x) {
            const bool disc = (x - cx) * (x - cx) + (y - cy) * (y - cy) < 150;
            const bool bar = cls[0] == 'B' && x > cx && x < cx + 5 && y < cy && y > 6;
            if (disc || bar) {
              uint8_t* p = &image.pixels[size_t(y * 64 + x) * 3];
              p[0] = 220, p[1] = 170, p[2] = 140;
            }
          }
        fs::create_directories(dir.path / cls);
        write_jpeg((dir.path / cls / ("massey_" + std::to_string(i) + ".jpg")).string(), image);
      }
    }
    return true;
  }();
  (void)written;
  return dir.path.string();
}

// Everything the recipe adds to a training batch (two sources with weights, the strong policy's
// warps, colour, blur and erasing, composition onto backgrounds and clutter, cutmix/mixup with soft
// targets) keeps batches independent of the thread count, and the targets travel with the batch.
TEST(Loader, RecipeBatchesDoNotDependOnTheThreadCount) {
  const DatasetIndex synthetic = index_class_folders(synthetic_folder());
  const DatasetIndex black = index_class_folders(hands_on_black_folder());
  const DatasetIndex merged = [&] {
    DatasetIndex m = synthetic;
    for (Sample s : black.samples) {
      s.source = 1;
      m.samples.push_back(s);
    }
    return m;
  }();
  auto options = [&](int threads) {
    LoaderOptions o = training_options(threads);
    o.augment.shear_degrees = 10;
    o.augment.perspective = 0.3;
    o.augment.hue = 0.1;
    o.augment.grayscale_probability = 0.2;
    o.augment.blur_probability = 0.3;
    o.augment.erase_probability = 0.3;
    o.source_mix = std::make_shared<SourceMix>(
        std::vector<int64_t>{int64_t(synthetic.samples.size()), int64_t(black.samples.size())},
        std::vector<double>{0.5, 0.5}, 3);
    o.batch_mix.cutmix_alpha = 1.0;
    o.batch_mix.mixup_alpha = 0.2;
    o.composition.sources = {false, true};
    o.composition.backgrounds = {synthetic.samples[0].path, synthetic.samples[5].path};
    o.composition.clutter_probability = 0.5;
    return o;
  };
  auto epoch_with_targets = [](Loader& loader, int64_t epoch) {
    std::vector<std::vector<uint8_t>> out = epoch_bytes(loader, epoch);
    loader.start_epoch(epoch);
    Batch b;
    size_t i = 0;
    while (loader.next(b)) {
      EXPECT_TRUE(b.targets.defined());
      EXPECT_EQ(b.targets.shape()[0], b.labels.numel());
      EXPECT_EQ(b.targets.shape()[1], 29);
      const float* t = b.targets.data<float>();
      for (int64_t r = 0; r < b.labels.numel(); ++r) {
        double sum = 0;
        for (int c = 0; c < 29; ++c) sum += t[r * 29 + c];
        EXPECT_NEAR(sum, 1.0, 1e-5);
      }
      out[i].insert(out[i].end(), reinterpret_cast<const uint8_t*>(t),
                    reinterpret_cast<const uint8_t*>(t) + b.targets.bytes());
      ++i;
    }
    return out;
  };
  Loader one(merged, options(1)), three(merged, options(3));
  for (int64_t epoch : {0, 2}) EXPECT_TRUE(epoch_with_targets(one, epoch) == epoch_with_targets(three, epoch));

  // Half of each epoch's rows come from the small source, though it holds a minority of the files.
  one.start_epoch(1);
  Batch b;
  int64_t from_black = 0, rows = 0;
  while (one.next(b)) {
    for (int64_t s : one.last_batch_samples()) from_black += merged.samples[size_t(s)].source == 1;
    rows += b.labels.numel();
  }
  EXPECT_NEAR(double(from_black) / double(rows), 0.5, 0.1);
}

}  // namespace
}  // namespace aslnet
