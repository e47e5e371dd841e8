// Reference solution of exercise 4: ZeRO stage 1 for SGD with momentum.
//
// Every replica holds the same averaged gradient, so every replica could compute the same update; with
// the optimizer sharded, each computes only its own shard's and keeps only that shard's velocity (1/size
// of the optimizer state), then the shards' owners send their new weights to everyone. Each element
// goes through exactly the arithmetic of the unsharded step, so the weights are the same bits.
// (engine/replication does it with a reduce-scatter of the gradients instead of an all-reduce, which
// moves half the data: a rank needs only its shard's averaged gradient.)
#include <algorithm>

#include "exercises/exercises.h"

namespace aslnet::exercises {

std::pair<int64_t, int64_t> shard_range(int64_t numel, int rank, int size) {
  const int64_t base = numel / size, extra = numel % size;  // the first `extra` shards get one more
  const int64_t begin = rank * base + std::min<int64_t>(rank, extra);
  return {begin, begin + base + (rank < extra ? 1 : 0)};
}

void sharded_sgd_step(Communicator& comm, const Tensor& weights, const Tensor& gradients, std::vector<float>& velocity,
                      float lr, float momentum) {
  const auto [begin, end] = shard_range(weights.numel(), comm.rank(), comm.size());
  velocity.resize(size_t(end - begin), 0.0f);  // zeros at first: v = momentum * 0 + g is torch's first step
  float* w = weights.data<float>();
  const float* g = gradients.data<float>();
  for (int64_t i = begin; i < end; ++i) {
    float& v = velocity[size_t(i - begin)];
    v = momentum * v + g[i];
    w[i] -= lr * v;
  }
  // The all-gather, as one broadcast per owner. Every rank computes the same ranges, so all call the
  // same broadcasts in the same order, empty shards (fewer values than ranks) skipped alike.
  for (int owner = 0; owner < comm.size(); ++owner) {
    const auto [b, e] = shard_range(weights.numel(), owner, comm.size());
    if (e > b) comm.broadcast(weights.slice(b, Shape{e - b}), owner, nullptr);
  }
}

}  // namespace aslnet::exercises
