#include "serve/batcher.h"

#include <algorithm>
#include <cstring>

#include "engine/core/cuda_check.h"
#include "engine/evaluate.h"
#include "engine/layers/conv_bn_inference.h"
#include "models/resnet.h"

namespace aslnet::serve {

struct BatchedClassifier::Request {
  std::vector<std::vector<float>> images;
  std::vector<Classification> results;
  size_t remaining = 0;  // images not yet classified (the worker counts down)
  std::string error;     // the first failure among its runs
  std::promise<void> done;
};

namespace {

double ms_between(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

// 1, 2, 4, ... below max_batch, then max_batch itself.
std::vector<int64_t> batch_sizes(int max_batch) {
  std::vector<int64_t> sizes;
  for (int64_t b = 1; b < max_batch; b *= 2) sizes.push_back(b);
  sizes.push_back(max_batch);
  return sizes;
}

}  // namespace

BatchedClassifier::BatchedClassifier(Context& ctx, std::unique_ptr<Model> prototype, int side,
                                     BatchingOptions options)
    : ctx_(ctx), side_(side), options_(options) {
  ASLNET_CHECK(options_.max_batch >= 1) << "the largest batch must be at least 1, not " << options_.max_batch;
  ASLNET_CHECK(options_.window_ms >= 0) << "the batching window must not be negative";
  const std::vector<int64_t> sizes = batch_sizes(options_.max_batch);
  // The copies are folded for inference as the prototype is (load_for_inference's BatchNormFold).
  const bool folded = folded_for_inference(prototype->net()) > 0;
  for (const int64_t batch : sizes) {
    std::unique_ptr<Model> model;
    if (batch == sizes.back()) {
      model = std::move(prototype);
    } else {
      model = make_model(prototype->info(), prototype->compute_dtype(), prototype->device());
      model->copy_weights_from(*prototype);
      if (folded) fold_batch_norm_for_inference(model->net());
    }
    model->setup(ctx_, batch, side_, side_);
    models_.push_back(std::move(model));
    inputs_.push_back(Tensor::zeros(Shape{batch, side_, side_, 3}, DType::F32));
    // Allocated once: a cudaMalloc per request would synchronise the device on every request.
    if (ctx_.device().is_cuda())
      device_inputs_.push_back(Tensor::zeros(Shape{batch, side_, side_, 3}, DType::F32, ctx_.device()));
  }
  // One run of every model (on its zeroed input) before the first request: cuDNN's first calls, and
  // the first touch of every buffer, stay out of the users' latencies and out of the stats.
  for (size_t i = 0; i < models_.size(); ++i) run_model(i, sizes[i]);
  worker_ = std::thread([this] { worker(); });
}

std::vector<int> BatchedClassifier::folded_layers() const {
  std::vector<int> out;
  for (const auto& model : models_) out.push_back(folded_for_inference(model->net()));
  return out;
}

std::vector<std::vector<double>> BatchedClassifier::run_model(size_t which, int64_t rows) {
  const Tensor& input = inputs_[which];
  if (ctx_.device().is_cuda()) device_inputs_[which].copy_from(input);
  const Tensor& model_input = ctx_.device().is_cuda() ? device_inputs_[which] : input;
  return softmax_rows(models_[which]->forward(ctx_, model_input, /*training=*/false), rows);
}

BatchedClassifier::~BatchedClassifier() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  arrived_.notify_all();
  worker_.join();
  // Whatever still waits is answered with an error rather than left hanging.
  for (Pending& p : queue_) {
    if (p.request->error.empty()) p.request->error = "the server is shutting down";
    if (--p.request->remaining == 0) p.request->done.set_value();
  }
}

BatchedClassifier::Incoming::Incoming(BatchedClassifier& classifier) : classifier_(classifier) {
  std::lock_guard<std::mutex> lock(classifier_.mutex_);
  ++classifier_.incoming_;
}

BatchedClassifier::Incoming::~Incoming() {
  {
    std::lock_guard<std::mutex> lock(classifier_.mutex_);
    if (!pending_) return;
    --classifier_.incoming_;
  }
  classifier_.arrived_.notify_one();  // the worker may be waiting for this request only
}

std::vector<Classification> BatchedClassifier::classify(std::vector<std::vector<float>> images, Incoming* announced) {
  if (images.empty()) return {};
  const size_t values = size_t(side_) * size_t(side_) * 3;
  for (const auto& image : images)
    ASLNET_CHECK(image.size() == values) << "an input image has " << image.size() << " values, not " << values;
  auto request = std::make_shared<Request>();
  request->images = std::move(images);
  request->results.resize(request->images.size());
  request->remaining = request->images.size();
  std::future<void> done = request->done.get_future();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ASLNET_CHECK(!stopping_) << "the server is shutting down";
    const Clock::time_point now = Clock::now();
    for (size_t i = 0; i < request->images.size(); ++i) queue_.push_back({request, i, now});
    if (announced && announced->pending_) {
      announced->pending_ = false;
      --incoming_;
    }
  }
  arrived_.notify_one();
  done.wait();
  ASLNET_CHECK(request->error.empty()) << request->error;
  return std::move(request->results);
}

ServingStats BatchedClassifier::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

std::vector<BatchedClassifier::Pending> BatchedClassifier::take_batch() {
  std::unique_lock<std::mutex> lock(mutex_);
  arrived_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
  if (stopping_) return {};
  const size_t most = size_t(options_.max_batch);
  if (options_.enabled && options_.window_ms > 0) {
    // The window starts when the oldest image arrived, so an image waits at most window_ms for company,
    // and only while announced requests are still decoding theirs.
    const auto deadline = queue_.front().arrived + std::chrono::duration_cast<Clock::duration>(
                                                       std::chrono::duration<double, std::milli>(options_.window_ms));
    arrived_.wait_until(lock, deadline, [&] { return stopping_ || queue_.size() >= most || incoming_ == 0; });
    if (stopping_) return {};
  }
  std::vector<Pending> batch;
  const Request* first = queue_.front().request.get();
  while (!queue_.empty() && batch.size() < most) {
    // Without batching, a run holds the images of one request only.
    if (!options_.enabled && queue_.front().request.get() != first) break;
    batch.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  return batch;
}

size_t BatchedClassifier::model_for(int64_t rows) const {
  for (size_t i = 0; i < models_.size(); ++i)
    if (models_[i]->input_shape()[0] >= rows) return i;
  ASLNET_CHECK(false) << "no model holds a batch of " << rows;
  return models_.size() - 1;
}

void BatchedClassifier::run_batch(std::vector<Pending>& batch) {
  const Clock::time_point start = Clock::now();
  const int64_t rows = int64_t(batch.size());
  std::string error;
  std::vector<std::vector<double>> probabilities;
  try {
    const size_t which = model_for(rows);
    Tensor& input = inputs_[which];
    const size_t values = size_t(side_) * size_t(side_) * 3;
    float* dst = input.data<float>();
    for (size_t i = 0; i < batch.size(); ++i)
      std::memcpy(dst + i * values, batch[i].request->images[batch[i].index].data(), values * sizeof(float));
    // The rows beyond this batch are zeroed: inference rows are independent, but stale images would
    // make a run depend on the one before.
    std::fill(dst + batch.size() * values, dst + input.numel(), 0.0f);
    probabilities = run_model(which, rows);
  } catch (const std::exception& e) {
    error = std::string("the model failed: ") + e.what();
  }
  const Clock::time_point end = Clock::now();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stats_.images += rows;
    stats_.runs += 1;
  }
  for (size_t i = 0; i < batch.size(); ++i) {
    Request& request = *batch[i].request;
    if (!error.empty()) {
      if (request.error.empty()) request.error = error;
    } else {
      Classification& c = request.results[batch[i].index];
      c.probabilities = std::move(probabilities[i]);
      c.batch = int(rows);
      c.queue_ms = ms_between(batch[i].arrived, start);
      c.model_ms = ms_between(start, end);
    }
    if (--request.remaining == 0) request.done.set_value();
  }
}

void BatchedClassifier::worker() {
  // The current device is per thread: this one runs the model, so it must be the model's.
  if (ctx_.device().is_cuda()) CUDA_CHECK(cudaSetDevice(ctx_.device().index));
  for (;;) {
    std::vector<Pending> batch = take_batch();
    if (batch.empty()) return;
    run_batch(batch);
  }
}

}  // namespace aslnet::serve
