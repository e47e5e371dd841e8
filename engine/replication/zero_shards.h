// ZeRO stage 1 (aslnet train --zero 1): which part of the flat parameter arena each replica owns, and
// the collectives that move gradients to their owners and updated weights back to everyone.
//
// Rajbhandari et al., "ZeRO: Memory Optimizations Toward Training Trillion Parameter Models" (SC 2020),
// stage 1, as DeepSpeed's stage 1 and PyTorch's ZeroRedundancyOptimizer do it: the optimizer state
// (momentum; Adam's two moments) is cut into N shards, one per replica. Each replica keeps and updates
// only its shard of the weights; the gradients reach each shard's owner averaged (reduce-scatter, half
// the bytes of an all-reduce), and after the update the weights are all-gathered (the other half), so
// the traffic equals plain replication's all-reduce while the state shrinks to 1/N per replica.
//
// One shard per bucket, not one per arena. The gradient reducer starts each bucket's collective while
// backward is still running (gradient_reducer.h); a shard of the whole arena would need every gradient
// before its reduce-scatter could start, and lose that overlap. So every bucket is cut into N equal
// chunks, rank r owning chunk r of each bucket, and the bucket's reduce-scatter starts exactly when its
// all-reduce would have. Collectives need equal chunks (ncclReduceScatter, MPI_Reduce_scatter_block):
// a bucket of c values has chunks of k = c / N values, and its last c mod N values (fewer than N: the
// bucket's "tail") are averaged with a tiny all-reduce and owned by the last rank. That keeps the
// model's arenas as they are (every layer holds views into them: padding them would move every
// parameter) and costs at most N - 1 values of extra state on the last rank per bucket.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "engine/replication/communicator.h"

namespace aslnet {

// Elements [offset, offset + count) of an arena.
struct ArenaRange {
  int64_t offset = 0, count = 0;
};

class ZeroShards {
 public:
  // `buckets`: the reducer's buckets (ranges tiling the arena, in order); this replica is `rank` of `size`.
  ZeroShards(const std::vector<ArenaRange>& buckets, int rank, int size);

  int rank() const { return rank_; }
  int size() const { return size_; }
  // What this rank owns, ascending and disjoint (one range per bucket, empty ones left out).
  const std::vector<ArenaRange>& owned() const { return owned_; }
  int64_t owned_count() const;
  // Any rank's ranges (for tests and the memory figures).
  std::vector<ArenaRange> owned_by(int rank) const;

  // Starts averaging bucket `b` of `arena` onto its owners: the reduce-scatter of its chunks and the
  // all-reduce of its tail. Completed by comm.finish(stream), as the all-reduces of plain replication.
  void start_reduce(Communicator& comm, const Tensor& arena, int b, cudaStream_t stream) const;
  // Collective: every rank's owned values of `arena` (weights, or optimizer state laid out as the arena)
  // into every rank's `arena`. Final on return (CPU) or in `stream`'s order (GPU).
  void gather(Communicator& comm, const Tensor& arena, cudaStream_t stream) const;
  // The same for one bucket: `values` holds bucket `b`'s values (its count, its layout).
  void gather_bucket(Communicator& comm, const Tensor& values, int b, cudaStream_t stream) const;

  int bucket_count() const { return int(buckets_.size()); }
  ArenaRange bucket(int b) const;
  // This rank's range in bucket `b` (possibly empty).
  ArenaRange owned_in(int b) const;

 private:
  struct Bucket {
    int64_t offset = 0, chunk = 0, tail = 0;  // N chunks of `chunk` values, then `tail` (< N) values
  };
  int rank_, size_;
  std::vector<Bucket> buckets_;
  std::vector<ArenaRange> owned_;
};

}  // namespace aslnet
