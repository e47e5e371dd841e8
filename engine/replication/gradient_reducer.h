// The gradient reducer: averages the gradient arena over all replicas, bucket by bucket, while
// backward is still running.
//
// The model lays its parameters out in reverse layer order (engine/model.h), so the gradients backward
// writes first sit at the front of the arena. The reducer cuts the arena into buckets at parameter
// boundaries: a small first bucket (it is ready almost at once, so communication starts early, as in
// PyTorch's DDP), then buckets of about `bucket_bytes`. Each layer that owns parameters calls the
// reducer's hook once per backward, right after writing their gradients, with those parameters
// (engine/layer.h); every parameter is reported exactly once, so counting down a bucket's parameters
// says when it is complete. When every parameter of the next bucket in line has its gradient, the
// bucket's all-reduce starts:
//   GPU: an event recorded on the compute stream -> the communication stream waits on it -> the
//        all-reduce is queued on the communication stream. The host never waits.
//   CPU: the communicator's non-blocking start (MPI_Iallreduce, or a post to the in-process group).
// Buckets start in arena order, on every rank the same, which is what collectives require. finish()
// completes them all and (GPU) makes the compute stream wait for the communication stream, so the
// optimizer, queued next on the compute stream, reads averaged gradients.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <unordered_map>
#include <vector>

#include "engine/core/cuda_handles.h"
#include "engine/model.h"
#include "engine/replication/communicator.h"

namespace aslnet {

struct ReducerOptions {
  int64_t bucket_bytes = 25 << 20;       // DDP's bucket_cap_mb = 25
  int64_t first_bucket_bytes = 1 << 20;  // DDP's first bucket is 1 MB
};

struct GradientBucket {
  int64_t offset = 0, count = 0;  // elements of the gradient arena
  int parameters = 0;             // how many parameters it holds
};

class GradientReducer {
 public:
  // Installs the hook on `model` (removed again by the destructor).
  GradientReducer(Model& model, Communicator& communicator, ReducerOptions options = {});
  ~GradientReducer();
  GradientReducer(const GradientReducer&) = delete;
  GradientReducer& operator=(const GradientReducer&) = delete;

  // Before a backward: whether this one's gradients are to be averaged. Accumulation micro-steps but
  // the last pass false (DDP's no_sync): their gradients only add up locally.
  void begin_backward(Context& ctx, bool reduce);
  // After the backward: completes the buckets' all-reduces; the compute stream (GPU) or the host
  // (CPU) then sees averaged gradients. Does nothing after a backward that was not to be reduced.
  void finish(Context& ctx);

  // Copies rank 0's parameters and batch-norm statistics to every rank: the replicas start equal.
  void broadcast_parameters(Context& ctx);

  const std::vector<GradientBucket>& buckets() const { return buckets_; }
  Communicator& communicator() { return comm_; }
  // Called with each bucket's index as its all-reduce starts (tests watch the order through it).
  std::function<void(int)> on_bucket_started;
  // What the model's backward hook calls with a layer's finished parameters (public so a test can wrap
  // the hook).
  void gradients_finished(std::span<Parameter* const> finished);

 private:
  void start_ready_buckets();

  Model& model_;
  Communicator& comm_;
  std::vector<GradientBucket> buckets_;
  std::unordered_map<const Parameter*, int> bucket_of_;  // the bucket that holds each parameter
  std::vector<int> waiting_;  // per bucket: parameters whose gradient is not yet final, this backward
  int next_bucket_ = 0;       // the next bucket to start
  bool reducing_ = false;
  Context* ctx_ = nullptr;
  // GPU: the communication stream, and per bucket the event that says its gradients are written.
  Stream comm_stream_;
  std::vector<Event> ready_;
  Event reduced_;
};

}  // namespace aslnet
