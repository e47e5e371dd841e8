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
//
// Unused parameters. A parameter whose layer's backward never ran was never reported, so its bucket
// never completes. finish() notices (every reduced backward: a glance at each bucket's count) and, as
// PyTorch's DDP does by default, stops with an error naming each such parameter. With
// `find_unused` (aslnet train --find-unused, DDP's find_unused_parameters=True) their gradients count
// as zero instead: finish() writes zeros into them and marks them ready, so their buckets complete and
// every replica all-reduces the same buckets in the same order.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <unordered_map>
#include <vector>

#include "engine/core/cuda_handles.h"
#include "engine/model.h"
#include "engine/optimizer.h"
#include "engine/replication/communicator.h"
#include "engine/replication/zero_shards.h"

namespace aslnet {

struct ReducerOptions {
  int64_t bucket_bytes = 25 << 20;       // DDP's bucket_cap_mb = 25
  int64_t first_bucket_bytes = 1 << 20;  // DDP's first bucket is 1 MB
  // Parameters that a backward leaves without a gradient: false, an error naming them; true, their
  // gradient is zero (DDP's find_unused_parameters).
  bool find_unused = false;
  // ZeRO stage 1 (--zero 1, zero_shards.h): each bucket is reduce-scattered to its shards' owners
  // instead of all-reduced, and shard_optimizer() makes the optimizer keep and update only this
  // replica's shards. No effect with one replica.
  bool zero = false;
};

struct GradientBucket {
  int64_t offset = 0, count = 0;  // elements of the gradient arena
  int64_t bytes = 0;              // what its all-reduce moves (alignment padding included)
  int parameters = 0;             // how many parameters it holds
  // Its first and last parameters in arena order (the classifier's `fc.bias` opens bucket 0).
  const Parameter* first = nullptr;
  const Parameter* last = nullptr;
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
  // With options().zero and several replicas: the shards; null otherwise.
  const ZeroShards* zero_shards() const { return zero_.get(); }
  // --zero 1: hands the optimizer this replica's shards (it drops the state of the rest, and all-gathers
  // the weights after each update). Call once, after any checkpoint has loaded. Nothing without shards.
  void shard_optimizer(Optimizer& optimizer);
  Communicator& communicator() { return comm_; }
  const ReducerOptions& options() const { return options_; }
  // What the last reduced backward observed: the parameter whose report completed `bucket` (its layer's
  // backward is the one that completed the bucket), or null when the bucket was completed by finish()
  // marking unused parameters ready; and the parameters found unused (with find_unused), in arena order.
  const Parameter* completed_by(int bucket) const { return completed_by_[size_t(bucket)]; }
  const std::vector<const Parameter*>& unused() const { return unused_; }
  // Called with each bucket's index as its all-reduce starts (tests watch the order through it).
  std::function<void(int)> on_bucket_started;
  // Called at the end of every backward that all-reduced, once every bucket has started: what it
  // observed (completed_by, unused) is then final (aslnet train --print-buckets prints the table then).
  std::function<void()> on_backward_reduced;
  // What the model's backward hook calls with a layer's finished parameters (public so a test can wrap
  // the hook).
  void gradients_finished(std::span<Parameter* const> finished);

 private:
  void start_ready_buckets();
  // --zero 1: the optimizer's shard of one state arena, assembled whole on rank 0 (OptimizerShard::assemble).
  Tensor assemble_state(Context& ctx, const Tensor& local);
  // finish()'s check: the parameters this backward never reported, in arena order (empty: none).
  std::vector<const Parameter*> unreported() const;
  // Zeroes the gradients of `unused` (queued on the compute stream on a GPU) and marks them ready.
  void count_as_zero(const std::vector<const Parameter*>& unused);

  Model& model_;
  Communicator& comm_;
  ReducerOptions options_;
  std::vector<GradientBucket> buckets_;
  std::unique_ptr<ZeroShards> zero_;  // --zero 1 with several replicas
  // Every parameter in arena order; each one's index there (its position), and per position the
  // bucket that holds it and whether its gradient is final in this backward.
  std::vector<const Parameter*> order_;
  std::unordered_map<const Parameter*, int> position_;
  std::vector<int> bucket_at_;
  std::vector<char> reported_;
  // Per bucket: parameters whose gradient is not yet final in this backward, and what completed it
  // last time (completed_by()).
  std::vector<int> waiting_;
  std::vector<const Parameter*> completed_by_;
  std::vector<const Parameter*> unused_;
  int next_bucket_ = 0;  // the next bucket to start
  bool reducing_ = false;
  Context* ctx_ = nullptr;
  // GPU: the communication stream, and per bucket the event that says its gradients are written.
  Stream comm_stream_;
  std::vector<Event> ready_;
  Event reduced_;
};

}  // namespace aslnet
