// BatchedClassifier: one model shared by many request threads. Request threads hand in images that are
// already decoded, resized and normalised (that work runs in parallel on their own threads); one worker
// thread owns the model and runs it. With batching on, the worker takes the first waiting image, waits
// up to `window_ms` for more (from any request) until it has `max_batch`, and runs them as one batch:
// on a GPU one batch of 32 costs little more than one image, so concurrent users share the device.
//
// The window is only waited out while more images are known to be on their way: a request announces
// itself (Incoming) before it decodes its images, and when every announced request has handed its
// images in, the batch runs at once. A lone client so pays no window at all.
//
// A model's shapes are fixed at setup, so the model is set up once per batch size 1, 2, 4, ...
// max_batch (copies of the same weights, each with its own activations); a batch runs on the smallest
// that holds it, the rows beyond it zero. Everything is set up, and run once, at start: cuDNN chooses
// its algorithms then, not on a user's request.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "engine/model.h"

namespace aslnet::serve {

struct BatchingOptions {
  bool enabled = true;   // false: each request runs on its own (all its images together)
  int max_batch = 32;    // images per run of the model (a request with more is split)
  double window_ms = 2;  // how long the first waiting image waits for company
};

// One image's answer, and how it was served.
struct Classification {
  std::vector<double> probabilities;  // softmax over the classes
  int batch = 0;                       // images in the model run that classified it
  double queue_ms = 0;                 // from hand-in to the start of that run
  double model_ms = 0;                 // that run (copy in, forward, softmax)
};

struct ServingStats {
  int64_t images = 0, runs = 0;
  double mean_batch() const { return runs ? double(images) / double(runs) : 0.0; }
};

class BatchedClassifier {
 public:
  // `prototype`: the loaded model (its weights are copied into one model per batch size; it is kept
  // as the largest). `side`: the input is [batch, side, side, 3] f32, normalised.
  BatchedClassifier(Context& ctx, std::unique_ptr<Model> prototype, int side, BatchingOptions options);
  ~BatchedClassifier();  // stops the worker; requests still waiting get an Error
  BatchedClassifier(const BatchedClassifier&) = delete;
  BatchedClassifier& operator=(const BatchedClassifier&) = delete;

  // A request on its way: created before the request decodes its images, handed to classify() with
  // them (or destroyed when the request fails first). While one exists, the worker waits out the window.
  class Incoming {
   public:
    explicit Incoming(BatchedClassifier& classifier);
    ~Incoming();
    Incoming(const Incoming&) = delete;
    Incoming& operator=(const Incoming&) = delete;

   private:
    friend class BatchedClassifier;
    BatchedClassifier& classifier_;
    bool pending_ = true;
  };

  // Classifies images of side * side * 3 normalised floats each. Blocks until all are done; safe to
  // call from any number of threads. An Error when the model fails (the worker goes on serving).
  std::vector<Classification> classify(std::vector<std::vector<float>> images, Incoming* announced = nullptr);

  ServingStats stats() const;
  // The convolutions folded with their batch norm in each batch size's model (as in the prototype).
  std::vector<int> folded_layers() const;

 private:
  using Clock = std::chrono::steady_clock;
  struct Request;  // one classify() call
  struct Pending {  // one of its images, waiting
    std::shared_ptr<Request> request;
    size_t index;
    Clock::time_point arrived;
  };

  void worker();
  // The next batch to run; empty when stopping.
  std::vector<Pending> take_batch();
  void run_batch(std::vector<Pending>& batch);
  size_t model_for(int64_t rows) const;
  // The model of batch size index `which` on its host input (copied to the GPU first there): the
  // probabilities of its first `rows` rows.
  std::vector<std::vector<double>> run_model(size_t which, int64_t rows);

  Context& ctx_;
  int side_;
  BatchingOptions options_;
  std::vector<std::unique_ptr<Model>> models_;  // batch sizes 1, 2, 4, ..., max_batch
  std::vector<Tensor> inputs_;                  // a host input per model
  std::vector<Tensor> device_inputs_;           // and its copy on the GPU (none on the CPU)
  mutable std::mutex mutex_;
  std::condition_variable arrived_;
  std::deque<Pending> queue_;
  int incoming_ = 0;  // requests announced and not yet handed in
  bool stopping_ = false;
  ServingStats stats_;
  std::thread worker_;
};

}  // namespace aslnet::serve
