// The exercises of docs/replication.md ("Exercises"). Each is one function or class, declared here and
// written in a file of its own in this folder, which starts as a stub that throws NotAttempted. The
// reference solutions are in solutions/. tests/exercises/test_exercises.cpp checks both:
//   build/tests/test_exercises           your files: each test is skipped until you attempt its exercise
//   build/tests/test_exercise_solutions  the reference solutions: these always run (CI runs both)
// Nothing else in aslnet includes this header: the engine's own versions of these ideas are in
// engine/replication/ (the doc says where).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <stdexcept>
#include <utility>
#include <vector>

#include "engine/core/tensor.h"
#include "engine/replication/communicator.h"

namespace aslnet::exercises {

// What a stub throws: the test of an exercise nobody attempted yet is skipped, not failed.
class NotAttempted : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// --- Exercise 2: issue buckets in ready order, and watch the mismatch detector fire ----------------
// (exercises/issue_order.cpp) A policy that decides when gradient buckets start their all-reduce, as
// GradientReducer::start_ready_buckets does. bucket_complete(b) is called when bucket b's last gradient
// is written; it returns the buckets to start now, in the order to start them. The exercise: write the
// *ready-order* policy (start a bucket the moment it completes), the one the reducer deliberately does
// not use. The test runs two replicas whose buckets complete in different orders and expects the
// in-process communicator to stop them with "differs between replicas".
class IssuePolicy {
 public:
  explicit IssuePolicy(int buckets) : buckets_(buckets) {}
  virtual ~IssuePolicy() = default;
  virtual std::vector<int> bucket_complete(int bucket) = 0;

 protected:
  int buckets_;
};
// The reducer's policy, given as a worked example (exercises/worked_examples.cpp): start buckets in
// index (arena) order only.
class IndexOrderPolicy : public IssuePolicy {
 public:
  using IssuePolicy::IssuePolicy;
  std::vector<int> bucket_complete(int bucket) override;

 private:
  std::vector<char> complete_;
  int next_ = 0;
};
// Yours.
std::unique_ptr<IssuePolicy> make_ready_order_policy(int buckets);

// --- Exercise 3: SyncBatchNorm's backward, from its forward -----------------------------------------
// (exercises/sync_bn_backward.cpp) Batch norm over the channels of `rows` x `channels` values (NHWC
// flattened: channel fastest), where each replica holds some of the rows of one global batch.
// `sum_over_replicas(v)` replaces v by its sum over all replicas (an all-reduce of sums; every replica
// calls it with the same size). The forward is given (sync_batch_norm_forward, exercises/worked_examples.cpp):
// it sums x and x*x per channel over every replica's rows, so mean and invstd are the global batch's.
struct SyncBatchNormSaved {
  std::vector<double> mean, invstd;  // per channel, over the global batch
  int64_t global_rows = 0;
};
SyncBatchNormSaved sync_batch_norm_forward(std::span<const float> x, int64_t channels, std::span<const float> gamma,
                                           std::span<const float> beta, double eps,
                                           const std::function<void(std::vector<double>&)>& sum_over_replicas,
                                           std::span<float> y);
// Yours: dx for this replica's rows, and dgamma, dbeta over the whole global batch (every replica ends
// with the same dgamma and dbeta), such that dx is what one batch norm over the concatenated batch would
// give these rows. At most one call of sum_over_replicas.
void sync_batch_norm_backward(std::span<const float> x, std::span<const float> dy, int64_t channels,
                              std::span<const float> gamma, const SyncBatchNormSaved& saved,
                              const std::function<void(std::vector<double>&)>& sum_over_replicas,
                              std::span<float> dx, std::span<float> dgamma, std::span<float> dbeta);

// --- Exercise 4: shard the optimizer (ZeRO stage 1) --------------------------------------------------
// (exercises/sharded_sgd.cpp) The elements [begin, end) of a flat arena of `numel` values that rank
// `rank` of `size` owns: contiguous, in rank order, tiling the arena, sizes differing by at most one.
std::pair<int64_t, int64_t> shard_range(int64_t numel, int rank, int size);
// One step of SGD with momentum (torch's: v = momentum * v + g; w -= lr * v) on this rank's shard only,
// then every rank gets every shard's new weights (one comm.broadcast per shard, from its owner).
// `weights` and `gradients` are the full f32 arenas on the CPU (gradients already averaged over the
// replicas); `velocity` holds this rank's shard of the momentum buffer only (sized on first use).
void sharded_sgd_step(Communicator& comm, const Tensor& weights, const Tensor& gradients, std::vector<float>& velocity,
                      float lr, float momentum);

}  // namespace aslnet::exercises
