// Which samples each replica reads in an epoch, with torch's DistributedSampler semantics: one seeded
// permutation per epoch shared by all replicas, padded (by repeating its start) to a multiple of the
// replica count, and dealt out round-robin, so shards are disjoint (but for the padding), equal in
// size and together cover the epoch. Replicas are counted across processes: replica r of process
// `rank` with `replicas_per_process` replicas each is global replica rank * replicas_per_process + r.
#pragma once

#include <cstdint>
#include <vector>

namespace aslnet {

struct ShardSpec {
  int rank = 0;                  // this process
  int world_size = 1;            // processes
  int replicas_per_process = 1;  // devices (or CPU replicas) driven by each process
  int replica = 0;               // which of this process's replicas

  int global_replica() const { return rank * replicas_per_process + replica; }
  int total_replicas() const { return world_size * replicas_per_process; }
};

class DistributedSampler {
 public:
  // drop_last: drop the tail instead of padding, so every replica gets floor(size / replicas).
  DistributedSampler(int64_t dataset_size, ShardSpec shard, bool shuffle, uint64_t seed, bool drop_last = false);

  // This replica's sample indices for `epoch`, in the order to read them.
  std::vector<int64_t> indices(int64_t epoch) const;
  // How many indices each replica gets per epoch.
  int64_t per_replica() const { return per_replica_; }

 private:
  int64_t size_;
  ShardSpec shard_;
  bool shuffle_;
  uint64_t seed_;
  bool drop_last_;
  int64_t per_replica_;
};

}  // namespace aslnet
