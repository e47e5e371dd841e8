// DistributedSampler: each replica's share of an epoch, with torch's semantics so that a run sharded
// over R replicas reads, in total, the same samples per epoch as torch would (though the permutation
// itself comes from the engine's Rng, not torch's generator). All replicas compute the same
// permutation from (seed, epoch) independently, so no communication is needed to agree on it.
#include "data/sampler.h"

#include <utility>

#include "engine/core/error.h"
#include "engine/core/rng.h"

namespace aslnet {

namespace {
// Keeps the data-order stream apart from other users of the same seed (weights, the split).
constexpr uint64_t kSamplerTag = 0x73616d706c657200ull;  // "sampler"
}  // namespace

DistributedSampler::DistributedSampler(int64_t dataset_size, ShardSpec shard, bool shuffle, uint64_t seed,
                                       bool drop_last)
    : size_(dataset_size), shard_(shard), shuffle_(shuffle), seed_(seed), drop_last_(drop_last), per_replica_(0) {
  ASLNET_CHECK(dataset_size >= 0) << "data set size must not be negative, got " << dataset_size;
  ASLNET_CHECK(shard.world_size >= 1) << "world size must be at least 1, got " << shard.world_size;
  ASLNET_CHECK(shard.rank >= 0 && shard.rank < shard.world_size)
      << "rank " << shard.rank << " is outside [0, world size " << shard.world_size << ")";
  ASLNET_CHECK(shard.replicas_per_process >= 1)
      << "replicas per process must be at least 1, got " << shard.replicas_per_process;
  ASLNET_CHECK(shard.replica >= 0 && shard.replica < shard.replicas_per_process)
      << "replica " << shard.replica << " is outside [0, replicas per process " << shard.replicas_per_process << ")";
  const int64_t replicas = shard.total_replicas();
  // drop_last: every replica gets floor(size / R) and the tail is never read this epoch (a different
  // tail each epoch when shuffling). Otherwise ceil(size / R), the shortfall padded with repeats.
  per_replica_ = drop_last ? size_ / replicas : (size_ + replicas - 1) / replicas;
}

std::vector<int64_t> DistributedSampler::indices(int64_t epoch) const {
  std::vector<int64_t> perm(size_t(size_), 0);
  for (int64_t i = 0; i < size_; ++i) perm[size_t(i)] = i;
  if (shuffle_) {
    // Fisher-Yates with the portable Rng (std::shuffle differs between standard libraries).
    Rng rng(seed_ ^ kSamplerTag, uint64_t(epoch));
    for (int64_t i = size_; i > 1; --i) std::swap(perm[size_t(i - 1)], perm[size_t(rng.below(uint64_t(i)))]);
  }
  const int64_t replicas = shard_.total_replicas();
  const int64_t total = per_replica_ * replicas;
  // Pad by repeating the permutation from its start (cyclically when it is shorter than the padding,
  // as torch does), or truncate under drop_last.
  if (total > size_) {
    perm.reserve(size_t(total));
    for (int64_t k = size_; k < total; ++k) perm.push_back(perm[size_t(k % size_)]);
  } else {
    perm.resize(size_t(total));
  }
  // Round-robin dealing: replica r reads perm[r], perm[r + R], ...
  std::vector<int64_t> mine;
  mine.reserve(size_t(per_replica_));
  for (int64_t k = shard_.global_replica(); k < total; k += replicas) mine.push_back(perm[size_t(k)]);
  return mine;
}

}  // namespace aslnet
