// BatchedClassifier: images classified from many threads at once, batched or not, give the same
// probabilities as the model run on each image alone; batches hold what the options say.
#include <gtest/gtest.h>

#include <chrono>
#include <latch>
#include <thread>

#include "engine/evaluate.h"
#include "engine/layers/conv_bn_inference.h"
#include "models/resnet.h"
#include "serve/batcher.h"
#include "tests/test_util.h"

namespace aslnet::serve {
namespace {

constexpr int kSide = 32;
const ModelInfo kInfo{"resnet18", "small", 0.125, 29, 3};

std::vector<float> random_image(Rng& rng) {
  std::vector<float> image(size_t(kSide) * kSide * 3);
  for (float& v : image) v = float(rng.normal());
  return image;
}

// The model on one image at a time: the reference.
std::vector<double> alone(Context& ctx, Model& single, const std::vector<float>& image) {
  Tensor input = Tensor::zeros(Shape{1, kSide, kSide, 3}, DType::F32);
  std::copy(image.begin(), image.end(), input.data<float>());
  const Tensor on_device = ctx.device().is_cuda() ? input.to(ctx.device()) : input;
  return softmax_rows(single.forward(ctx, on_device, false), 1)[0];
}

struct Fixture {
  uint64_t seed = test::fresh_seed();
  Rng rng{seed};
  Context ctx;
  std::unique_ptr<Model> single;

  explicit Fixture(Device device) : ctx(device) {
    Rng init(seed + 1);
    single = make_initialised_model(kInfo, init, DType::F32, device);
    single->setup(ctx, 1, kSide, kSide);
  }
  std::unique_ptr<BatchedClassifier> classifier(BatchingOptions options) {
    Rng init(seed + 1);  // the same weights as `single`
    return std::make_unique<BatchedClassifier>(ctx, make_initialised_model(kInfo, init, DType::F32, ctx.device()),
                                               kSide, options);
  }
};

// `clients` threads each classify `per_client` random images at once; every answer is checked against
// the model alone. Returns the batch sizes seen.
// Each client announces its request (as the server does before decoding), and all announce before any
// hands its images in.
std::vector<int> check_concurrent(Fixture& f, BatchedClassifier& classifier, int clients, int per_client,
                                  double tolerance) {
  std::vector<std::vector<std::vector<float>>> images(static_cast<size_t>(clients));
  for (auto& mine : images)
    for (int i = 0; i < per_client; ++i) mine.push_back(random_image(f.rng));
  std::vector<std::vector<Classification>> answers(static_cast<size_t>(clients));
  std::vector<std::thread> threads;
  std::latch all_announced(clients);
  for (int c = 0; c < clients; ++c)
    threads.emplace_back([&, c] {
      BatchedClassifier::Incoming incoming(classifier);
      all_announced.arrive_and_wait();
      answers[size_t(c)] = classifier.classify(images[size_t(c)], &incoming);
    });
  for (auto& t : threads) t.join();
  std::vector<int> batches;
  for (int c = 0; c < clients; ++c) {
    if (answers[size_t(c)].size() != size_t(per_client)) { ADD_FAILURE() << "client " << c << ": wrong answer count"; continue; }
    for (int i = 0; i < per_client; ++i) {
      const std::vector<double> reference = alone(f.ctx, *f.single, images[size_t(c)][size_t(i)]);
      const Classification& got = answers[size_t(c)][size_t(i)];
      if (got.probabilities.size() != reference.size()) { ADD_FAILURE() << "wrong class count"; continue; }
      for (size_t k = 0; k < reference.size(); ++k)
        EXPECT_NEAR(got.probabilities[k], reference[k], tolerance) << "seed " << f.seed << " client " << c << " image " << i;
      batches.push_back(got.batch);
    }
  }
  return batches;
}

TEST(BatchedClassifier, ConcurrentRequestsShareBatchesAndMatchTheModelAlone) {
  Fixture f(Device::cpu());
  // A window long enough for all eight announced clients to hand their images in.
  auto classifier = f.classifier({true, 16, 2000.0});
  const std::vector<int> batches = check_concurrent(f, *classifier, 8, 3, 1e-5);
  EXPECT_GT(*std::max_element(batches.begin(), batches.end()), 3) << "no batch mixed requests";
  for (int b : batches) EXPECT_LE(b, 16);
  EXPECT_GT(classifier->stats().mean_batch(), 3.0);
}

// serve loads its model folded for inference (batch norm in the convolutions): every batch size's copy
// is folded too, and answers as the unfolded model alone does, within fp32 rounding.
TEST(BatchedClassifier, AFoldedPrototypeGivesFoldedCopiesThatAnswerAsTheModel) {
  Fixture f(Device::cpu());
  Rng init(f.seed + 1);
  auto prototype = make_initialised_model(kInfo, init, DType::F32, f.ctx.device());
  const int folds = fold_batch_norm_for_inference(prototype->net());
  ASSERT_EQ(folds, 20);
  BatchedClassifier classifier(f.ctx, std::move(prototype), kSide, {true, 4, 2000.0});
  for (int folded : classifier.folded_layers()) EXPECT_EQ(folded, folds);
  check_concurrent(f, classifier, 4, 2, 1e-5);
}

TEST(BatchedClassifier, TheWindowIsWaitedOnlyWhileAnnouncedRequestsAreOnTheirWay) {
  Fixture f(Device::cpu());
  auto classifier = f.classifier({true, 16, 3000.0});
  using Clock = std::chrono::steady_clock;
  auto seconds_since = [](Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); };
  // Alone (nothing else announced): no wait for the 3 s window.
  Clock::time_point start = Clock::now();
  EXPECT_EQ(classifier->classify({random_image(f.rng)}).size(), 1u);
  EXPECT_LT(seconds_since(start), 1.5);
  // Another request announced: the window is waited out until it arrives (here: until it gives up,
  // as a request whose image cannot be decoded does).
  start = Clock::now();
  std::thread other([&] {
    BatchedClassifier::Incoming incoming(*classifier);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(classifier->classify({random_image(f.rng)}).size(), 1u);
  other.join();
  const double waited = seconds_since(start);
  EXPECT_GT(waited, 0.25) << "ran before the announced request gave up";
  EXPECT_LT(waited, 1.5) << "waited out the whole window although no request was on its way";
}

TEST(BatchedClassifier, WithoutBatchingEachRunHoldsOneRequest) {
  Fixture f(Device::cpu());
  auto classifier = f.classifier({false, 16, 200.0});
  const std::vector<int> batches = check_concurrent(f, *classifier, 6, 3, 1e-5);
  for (int b : batches) EXPECT_EQ(b, 3);
  EXPECT_EQ(classifier->stats().runs, 6);
}

TEST(BatchedClassifier, ARequestLargerThanTheLargestBatchIsSplit) {
  Fixture f(Device::cpu());
  auto classifier = f.classifier({true, 6, 1.0});  // batch sizes 1, 2, 4, 6
  const std::vector<int> batches = check_concurrent(f, *classifier, 1, 20, 1e-5);
  EXPECT_EQ(batches.size(), 20u);
  for (int b : batches) EXPECT_LE(b, 6);
  EXPECT_GE(classifier->stats().runs, 4);  // 20 images, at most 6 a run
}

TEST(BatchedClassifier, RejectsAnImageOfTheWrongSize) {
  Fixture f(Device::cpu());
  auto classifier = f.classifier({true, 4, 1.0});
  EXPECT_THROW(classifier->classify({std::vector<float>(10)}), Error);
  // ...and goes on serving.
  EXPECT_EQ(classifier->classify({random_image(f.rng)}).size(), 1u);
  EXPECT_TRUE(classifier->classify({}).empty());
}

TEST(BatchedClassifierCuda, ConcurrentRequestsMatchTheCpuModelAlone) {
  ASLNET_REQUIRE_GPU_OR_SKIP();
  Fixture gpu(Device::cuda(0));
  Fixture cpu(Device::cpu());
  cpu.seed = gpu.seed;  // the same weights on both
  Rng init(gpu.seed + 1);
  cpu.single = make_initialised_model(kInfo, init, DType::F32, Device::cpu());
  cpu.single->setup(cpu.ctx, 1, kSide, kSide);
  auto classifier = gpu.classifier({true, 16, 50.0});
  const std::vector<int> batches = check_concurrent(gpu, *classifier, 8, 2, 1e-5);
  EXPECT_GT(*std::max_element(batches.begin(), batches.end()), 2);
  // The GPU classifier against the CPU model on the same images (fp32, TF32 off).
  std::vector<float> image = random_image(gpu.rng);
  const std::vector<double> on_gpu = classifier->classify({image})[0].probabilities;
  const std::vector<double> on_cpu = alone(cpu.ctx, *cpu.single, image);
  for (size_t k = 0; k < on_cpu.size(); ++k) EXPECT_NEAR(on_gpu[k], on_cpu[k], 1e-4) << "seed " << gpu.seed;
}

}  // namespace
}  // namespace aslnet::serve
