#include "engine/replication/zero_shards.h"

namespace aslnet {

ZeroShards::ZeroShards(const std::vector<ArenaRange>& buckets, int rank, int size) : rank_(rank), size_(size) {
  ASLNET_CHECK(size >= 1 && rank >= 0 && rank < size) << "rank " << rank << " of " << size;
  for (const ArenaRange& b : buckets) buckets_.push_back({b.offset, b.count / size, b.count % size});
  owned_ = owned_by(rank);
}

std::vector<ArenaRange> ZeroShards::owned_by(int rank) const {
  std::vector<ArenaRange> out;
  for (const Bucket& b : buckets_) {
    // Chunk `rank`; the last rank's runs on over the tail, which follows it.
    const int64_t count = b.chunk + (rank == size_ - 1 ? b.tail : 0);
    if (count > 0) out.push_back({b.offset + rank * b.chunk, count});
  }
  return out;
}

int64_t ZeroShards::owned_count() const {
  int64_t n = 0;
  for (const ArenaRange& r : owned_) n += r.count;
  return n;
}

void ZeroShards::start_reduce(Communicator& comm, const Tensor& arena, int b, cudaStream_t stream) const {
  const Bucket& bucket = buckets_.at(size_t(b));
  // Every rank skips the same empty parts: the ranks' collectives stay in step.
  if (bucket.chunk > 0)
    comm.start_reduce_scatter_average(arena.slice(bucket.offset, Shape{bucket.chunk * size_}), stream);
  if (bucket.tail > 0)
    comm.start_all_reduce_average(arena.slice(bucket.offset + bucket.chunk * size_, Shape{bucket.tail}), stream);
}

ArenaRange ZeroShards::bucket(int b) const {
  const Bucket& bucket = buckets_.at(size_t(b));
  return {bucket.offset, bucket.chunk * size_ + bucket.tail};
}

ArenaRange ZeroShards::owned_in(int b) const {
  const Bucket& bucket = buckets_.at(size_t(b));
  return {bucket.offset + rank_ * bucket.chunk, bucket.chunk + (rank_ == size_ - 1 ? bucket.tail : 0)};
}

void ZeroShards::gather(Communicator& comm, const Tensor& arena, cudaStream_t stream) const {
  for (int b = 0; b < bucket_count(); ++b) {
    const ArenaRange range = bucket(b);
    gather_bucket(comm, arena.slice(range.offset, Shape{range.count}), b, stream);
  }
}

void ZeroShards::gather_bucket(Communicator& comm, const Tensor& values, int b, cudaStream_t stream) const {
  const Bucket& bucket = buckets_.at(size_t(b));
  ASLNET_CHECK(values.numel() == bucket.chunk * size_ + bucket.tail)
      << "gather of bucket " << b << ": " << values.numel() << " values for a bucket of "
      << bucket.chunk * size_ + bucket.tail;
  if (bucket.chunk > 0) comm.all_gather(values.slice(0, Shape{bucket.chunk * size_}), stream);
  if (bucket.tail > 0) comm.broadcast(values.slice(bucket.chunk * size_, Shape{bucket.tail}), size_ - 1, stream);
}

}  // namespace aslnet
