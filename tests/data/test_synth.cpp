// The synthetic data generator: deterministic per (seed, class, index), every class renders, the
// writer produces the Kaggle layout with decodable JPEGs and refuses to mix data sets. And the issue's
// must-show: the classes live in the hands' shapes, not in pixel statistics, so a small ResNet learns
// them to >= 95% on held-out images while a linear classifier on the same raw pixels stays below 50%.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <unistd.h>
#include <vector>

#include "data/classes.h"
#include "data/synth.h"
#include "engine/schedule.h"
#include "engine/train_step.h"
#include "kernels/linear.h"
#include "kernels/loss.h"
#include "models/resnet.h"
#include "tests/test_util.h"

namespace aslnet {
namespace {

namespace fs = std::filesystem;
constexpr int kClasses = 29;

Image render(uint64_t seed, int label, int index, int size) {
  Rng rng = synthetic_image_rng(seed, label, index);
  return render_synthetic_hand(label, size, rng);
}

TEST(Synth, SameSeedSamePixelsOtherSeedOtherPixels) {
  for (int label : {0, 17, 27}) {
    const Image a = render(5, label, 3, 48), b = render(5, label, 3, 48);
    EXPECT_EQ(a.pixels, b.pixels) << "class " << label;
    EXPECT_NE(a.pixels, render(6, label, 3, 48).pixels) << "class " << label << ": another seed";
    EXPECT_NE(a.pixels, render(5, label, 4, 48).pixels) << "class " << label << ": another index";
  }
}

TEST(Synth, EveryClassRendersAndOutOfRangeIsRefused) {
  for (int label = 0; label < kClasses; ++label) {
    const Image image = render(1, label, 0, 40);
    ASSERT_EQ(image.width, 40);
    ASSERT_EQ(image.height, 40);
    ASSERT_EQ(image.pixels.size(), size_t(40 * 40 * 3));
    // Not flat: a gradient, clutter, and (but for "nothing") a hand.
    const auto [lo, hi] = std::minmax_element(image.pixels.begin(), image.pixels.end());
    EXPECT_GT(int(*hi) - int(*lo), 60) << asl_classes()[size_t(label)];
  }
  Rng rng(0);
  EXPECT_THROW(render_synthetic_hand(kClasses, 32, rng), Error);
  EXPECT_THROW(render_synthetic_hand(-1, 32, rng), Error);
}

TEST(Synth, WriterProducesTheKaggleLayoutAndRefusesToMixDataSets) {
  test::TempDir dir("aslnet_synth_test");
  ASSERT_FALSE(dir.path.empty());
  const SynthOptions options{.per_class = 3, .size = 36, .seed = 9, .quality = 92};
  write_synthetic_dataset(dir.path.string(), options);
  JpegDecoder decoder;
  int files = 0;
  for (const auto& name : asl_classes()) {
    const fs::path folder = dir.path / name;
    ASSERT_TRUE(fs::is_directory(folder)) << folder;
    EXPECT_EQ(std::distance(fs::directory_iterator(folder), fs::directory_iterator()), 3) << folder;
    for (int n = 1; n <= 3; ++n) {
      const fs::path file = folder / (name + std::to_string(n) + ".jpg");
      ASSERT_TRUE(fs::exists(file)) << file;
      const Image image = decoder.decode_file(file.string());
      EXPECT_EQ(image.width, 36);
      EXPECT_EQ(image.height, 36);
      ++files;
    }
  }
  EXPECT_EQ(files, kClasses * 3);
  // The file is the rendered image, up to JPEG's loss: the same (seed, class, index) as render().
  const Image original = render(9, asl_class_index("space"), 1, 36);
  const Image decoded = decoder.decode_file((dir.path / "space" / "space2.jpg").string());
  double error = 0;
  for (size_t i = 0; i < original.pixels.size(); ++i) error += std::abs(int(original.pixels[i]) - int(decoded.pixels[i]));
  EXPECT_LT(error / double(original.pixels.size()), 12.0) << "mean absolute difference after JPEG";

  // A folder that already holds a data set is refused, and left as it was.
  try {
    write_synthetic_dataset(dir.path.string(), options);
    FAIL() << "a second data set was written into a used folder";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--out"), std::string::npos) << e.what();
  }
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path / "A"), fs::directory_iterator()), 3);

  // An existing folder with unrelated content, or empty class folders, is fine.
  test::TempDir other("aslnet_synth_test_other");
  ASSERT_FALSE(other.path.empty());
  fs::create_directories(other.path / "A");
  std::ofstream(other.path / "README.txt") << "notes\n";
  write_synthetic_dataset(other.path.string(), {.per_class = 1, .size = 16, .seed = 1});
  EXPECT_TRUE(fs::exists(other.path / "nothing" / "nothing1.jpg"));
}

// ---- Learnability ------------------------------------------------------------------------------------

struct Set {
  Tensor images;  // [n, size, size, 3] f32, normalised
  std::vector<int32_t> labels;
};

// per_class images of every class, indices [first, first + per_class), interleaved by class.
std::vector<Image> render_set(uint64_t seed, int per_class, int first, int size, std::vector<int32_t>& labels) {
  std::vector<Image> images;
  for (int i = 0; i < per_class; ++i) {
    for (int label = 0; label < kClasses; ++label) {
      images.push_back(render(seed, label, first + i, size));
      labels.push_back(label);
    }
  }
  return images;
}

// Per-channel normalisation with the training set's statistics (as the data pipeline does).
Set normalise(const std::vector<Image>& images, std::vector<int32_t> labels, const double mean[3], const double std[3]) {
  const int size = images[0].width;
  Set set{Tensor::empty(Shape{int64_t(images.size()), size, size, 3}, DType::F32), std::move(labels)};
  float* out = set.images.data<float>();
  for (const Image& image : images)
    for (size_t i = 0; i < image.pixels.size(); ++i) *out++ = float((image.pixels[i] - mean[i % 3]) / std[i % 3]);
  return set;
}

void channel_stats(const std::vector<Image>& images, double mean[3], double std[3]) {
  double sum[3] = {0, 0, 0}, sq[3] = {0, 0, 0};
  size_t count = 0;
  for (const Image& image : images) {
    for (size_t i = 0; i < image.pixels.size(); ++i) {
      sum[i % 3] += image.pixels[i];
      sq[i % 3] += double(image.pixels[i]) * image.pixels[i];
    }
    count += image.pixels.size() / 3;
  }
  for (int c = 0; c < 3; ++c) {
    mean[c] = sum[c] / double(count);
    std[c] = std::sqrt(sq[c] / double(count) - mean[c] * mean[c]);
  }
}

struct Split {
  Set train, held_out;
};

// The learnability data: 32 px images, training and held-out images drawn from disjoint indices.
const Split& learnability_split() {
  static const Split split = [] {
    const int kSize = 32, kTrainPerClass = 200, kHeldOutPerClass = 40;
    std::vector<int32_t> train_labels, held_labels;
    const auto train = render_set(2024, kTrainPerClass, 0, kSize, train_labels);
    const auto held = render_set(2024, kHeldOutPerClass, 100000, kSize, held_labels);
    double mean[3], std[3];
    channel_stats(train, mean, std);
    return Split{normalise(train, train_labels, mean, std), normalise(held, held_labels, mean, std)};
  }();
  return split;
}

// Rows `rows` of a set copied into batch tensors.
void gather(const Set& set, const std::vector<int64_t>& rows, Tensor& images, Tensor& labels) {
  const int64_t pixels = set.images.numel() / set.images.shape().n();
  for (size_t i = 0; i < rows.size(); ++i) {
    std::memcpy(images.data<float>() + int64_t(i) * pixels, set.images.data<float>() + rows[i] * pixels,
                size_t(pixels) * sizeof(float));
    labels.data<int32_t>()[i] = set.labels[size_t(rows[i])];
  }
}

// Training augmentation: each image of the batch moved by up to `max_shift` pixels in x and y (edges
// repeated), so that 200 images per class are not simply memorised.
void shift_batch(Tensor& images, int max_shift, Rng& rng) {
  const int64_t n = images.shape().n(), h = images.shape().h(), w = images.shape().w();
  std::vector<float> copy(size_t(h * w * 3));
  for (int64_t i = 0; i < n; ++i) {
    float* image = images.data<float>() + i * h * w * 3;
    const int64_t dx = int64_t(rng.below(uint64_t(2 * max_shift + 1))) - max_shift;
    const int64_t dy = int64_t(rng.below(uint64_t(2 * max_shift + 1))) - max_shift;
    std::copy_n(image, copy.size(), copy.begin());
    for (int64_t y = 0; y < h; ++y) {
      const int64_t sy = std::clamp<int64_t>(y - dy, 0, h - 1);
      for (int64_t x = 0; x < w; ++x) {
        const int64_t sx = std::clamp<int64_t>(x - dx, 0, w - 1);
        std::copy_n(copy.data() + (sy * w + sx) * 3, 3, image + (y * w + x) * 3);
      }
    }
  }
}

int argmax(const float* row, int n) { return int(std::max_element(row, row + n) - row); }

TEST(Synth, SmallResNetLearnsTheClassesFromShapes) {
  const auto start = std::chrono::steady_clock::now();
  const Split& data = learnability_split();
  const int64_t n = data.train.images.shape().n(), size = data.train.images.shape().h();
  const int64_t kBatch = 32, kEpochs = 14, kMaxShift = 2;
  Context ctx(Device::cpu(), 7);
  auto model = make_resnet({"resnet18", "imagenet", 0.25, kClasses, 3});
  init_torchvision(*model, ctx.rng());
  model->setup(ctx, kBatch, size, size);
  CrossEntropyLoss loss(0.0);
  // AdamW: on these images (pose, skin, background and light drawn at random) SGD with momentum stays
  // near chance for the first epochs; AdamW at 3e-3 learns about twice as fast in the same steps. Each
  // training image is shifted by up to 2 pixels (edges repeated): without it the network memorises its
  // 200 images per class (train 97%, held-out 92%); with it train and held-out accuracy stay together.
  Optimizer optimizer(*model, {.kind = "adamw", .weight_decay = 0.01, .decay_norm_and_bias = false});
  const int64_t steps_per_epoch = n / kBatch, steps = kEpochs * steps_per_epoch;
  const ScheduleConfig schedule{.kind = "cosine", .base_lr = 0.003, .total_steps = steps, .warmup_steps = 20};
  Tensor images = Tensor::empty(Shape{kBatch, size, size, 3}, DType::F32);
  Tensor labels = Tensor::empty(Shape{kBatch}, DType::I32);
  std::vector<int64_t> order(static_cast<size_t>(n)), rows(kBatch);
  std::iota(order.begin(), order.end(), 0);
  Rng shuffle(11);
  int64_t step = 0, last_correct = 0;
  for (int64_t epoch = 0; epoch < kEpochs; ++epoch) {
    for (int64_t i = n - 1; i > 0; --i) std::swap(order[size_t(i)], order[shuffle.below(uint64_t(i + 1))]);
    last_correct = 0;
    for (int64_t b = 0; b < steps_per_epoch; ++b, ++step) {
      std::copy_n(order.begin() + b * kBatch, kBatch, rows.begin());
      gather(data.train, rows, images, labels);
      shift_batch(images, kMaxShift, shuffle);
      const LossResult r = train_step(ctx, *model, loss, optimizer, images, labels, learning_rate(schedule, step));
      ASSERT_TRUE(std::isfinite(r.loss)) << "step " << step;
      last_correct += r.correct;
    }
    std::printf("epoch %lld train acc %.3f\n", (long long)epoch, double(last_correct) / double(steps_per_epoch * kBatch));
  }
  // Held-out images in eval mode (batch norm on running statistics); the last batch is padded.
  const Set& held = data.held_out;
  const int64_t m = held.images.shape().n();
  int64_t correct = 0;
  for (int64_t first = 0; first < m; first += kBatch) {
    for (int64_t i = 0; i < kBatch; ++i) rows[size_t(i)] = std::min(first + i, m - 1);
    gather(held, rows, images, labels);
    const Tensor& logits = model->forward(ctx, images, /*training=*/false);
    for (int64_t i = 0; i < kBatch && first + i < m; ++i)
      correct += argmax(logits.data<float>() + i * kClasses, kClasses) == labels.data<int32_t>()[i];
  }
  const double accuracy = double(correct) / double(m);
  const double train_accuracy = double(last_correct) / double(steps_per_epoch * kBatch);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  RecordProperty("held_out_accuracy", std::to_string(accuracy));
  std::printf("ResNet-18 (width 0.25): last-epoch train accuracy %.1f%%, held-out %.1f%% on %lld images, %.1f s\n",
              100 * train_accuracy, 100 * accuracy, static_cast<long long>(m), seconds);
  EXPECT_GE(accuracy, 0.95);
}

TEST(Synth, LinearClassifierOnRawPixelsFails) {
  const auto start = std::chrono::steady_clock::now();
  const Split& data = learnability_split();
  const int64_t n = data.train.images.shape().n(), m = data.held_out.images.shape().n();
  const int64_t features = data.train.images.numel() / n;
  const float* x = data.train.images.data<float>();
  // Softmax regression, full batch, Adam: convex, so enough steps reach the optimum whatever the
  // conditioning of the pixel covariance. A small L2 penalty keeps the weights finite on separable data.
  std::vector<float> w(size_t(kClasses * features), 0.0f), b(kClasses, 0.0f), dw(w.size()), db(b.size());
  std::vector<float> logits(size_t(n * kClasses)), dlogits(logits.size());
  std::vector<double> m1(w.size() + b.size(), 0.0), m2(w.size() + b.size(), 0.0);
  constexpr int kSteps = 400;
  constexpr double kLr = 0.003, kDecay = 1e-4;
  double train_loss = 0;
  for (int t = 1; t <= kSteps; ++t) {
    kernels::cpu::linear_forward<float>(n, features, kClasses, x, w.data(), b.data(), logits.data());
    train_loss = kernels::cpu::softmax_cross_entropy<float>(n, kClasses, logits.data(), data.train.labels.data(), 0.0,
                                                            dlogits.data());
    kernels::cpu::linear_backward<float>(n, features, kClasses, x, w.data(), dlogits.data(), nullptr, dw.data(),
                                         db.data(), false);
    const double lr = kLr * 0.5 * (1 + std::cos(M_PI * (t - 1) / kSteps));
    auto adam = [&](float* p, const float* g, size_t count, size_t offset, double decay) {
      for (size_t i = 0; i < count; ++i) {
        const double grad = g[i] + decay * p[i];
        double& a = m1[offset + i];
        double& v = m2[offset + i];
        a = 0.9 * a + 0.1 * grad;
        v = 0.999 * v + 0.001 * grad * grad;
        p[i] -= float(lr * (a / (1 - std::pow(0.9, t))) / (std::sqrt(v / (1 - std::pow(0.999, t))) + 1e-8));
      }
    };
    adam(w.data(), dw.data(), w.size(), 0, kDecay);
    adam(b.data(), db.data(), b.size(), w.size(), 0.0);
  }
  auto accuracy = [&](const Set& set) {
    const int64_t rows = set.images.shape().n();
    std::vector<float> out(size_t(rows * kClasses));
    kernels::cpu::linear_forward<float>(rows, features, kClasses, set.images.data<float>(), w.data(), b.data(),
                                        out.data());
    return double(kernels::cpu::top1_correct<float>(rows, kClasses, out.data(), set.labels.data())) / double(rows);
  };
  const double train_accuracy = accuracy(data.train), held_accuracy = accuracy(data.held_out);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  RecordProperty("held_out_accuracy", std::to_string(held_accuracy));
  std::printf("linear classifier on raw pixels: train loss %.3f, train accuracy %.1f%%, held-out %.1f%% on %lld images, "
              "%.1f s\n",
              train_loss, 100 * train_accuracy, 100 * held_accuracy, static_cast<long long>(m), seconds);
  EXPECT_LT(held_accuracy, 0.5);
}

}  // namespace
}  // namespace aslnet
