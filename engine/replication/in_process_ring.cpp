// The ring all-reduce of the in-process communicator (`aslnet train --device cpu --replicas N
// --allreduce ring`), step by step. in_process_ring.h says what it is for and what it costs; the TCP
// ring (tcp_ring.cpp) is the same algorithm with sockets where this one has shared memory.
//
// A worked example, 3 replicas (A, B, C: ranks 0, 1, 2), each buffer cut into segments 0, 1, 2. "a0"
// is replica A's segment 0 as it posted it; "a0+b0" a partial sum. Each replica only ever reads its
// left-hand neighbour's buffer (rank r - 1; rank 0's left is rank 2) and writes its own.
//
//   reduce-scatter: at step k, replica r adds its left's segment r - k - 1 into its own.
//
//               replica A (rank 0)          replica B (rank 1)          replica C (rank 2)
//               seg 0    seg 1    seg 2     seg 0    seg 1    seg 2     seg 0    seg 1    seg 2
//   posted      a0       a1       a2        b0       b1       b2        c0       c1       c2
//   step 0      a0       a1       c2+a2     a0+b0    b1       b2        c0       b1+c1    c2
//   step 1      a0       b1+c1+a1 c2+a2     a0+b0    b1       c2+a2+b2  a0+b0+c0 b1+c1    c2
//
//   After n - 1 = 2 steps replica r owns segment r + 1 summed over all (A: 1, B: 2, C: 0), and scales
//   it by 1/n. All-gather: at step k, replica r copies its left's segment r - k, final, into its own.
//   step 0      A copies segment 0 from C, B segment 1 from A, C segment 2 from B
//   step 1      A copies segment 2 from C, B segment 0 from A, C segment 1 from B: all have all three.
//
// Why the result is the same bits on every replica: segment s is summed once, along the chain s, s + 1,
// ..., s - 1 (segment 0 above: a0, then + b0, then + c0), by whichever replica holds the partial sum at
// each step; the owner scales it, and the all-gather only copies those bits. Nothing is summed twice,
// and the order of each sum is fixed by s and n alone, so the same inputs give the same bits every run.
//
// Synchronisation: shared memory needs no messages, but a replica must not read its left's segment
// before the left has written it, nor overwrite a segment its right has not read yet. A barrier after
// every step (every replica has finished step k before any starts step k + 1) guarantees both, and the
// one after the last step guarantees that no peer still reads this replica's buffer when finish()
// returns and the trainer writes the next gradients into it. NCCL syncs each pair of neighbours only
// (a flag per step in shared memory), which is cheaper with many ranks; a barrier is the simplest
// correct choice here and costs 2(n - 1) synchronisations, the latency term of the cost model.
//
// Where the time goes: every replica moves 5 (n - 1) / n of the buffer through its own thread(s)
// (reduce-scatter: read two values, write one, per value of n - 1 segments; all-gather: read one,
// write one) while the central sum moves 2n buffers through one replica's. On n cores the ring's work
// runs in parallel; on fewer cores than replicas the threads take turns and the ring loses that edge
// while still paying its 2(n - 1) barriers (bench/results/2026-12-03-allreduce-ring-cpu-2core.md).
#include "engine/replication/in_process_ring.h"

#include <algorithm>
#include <chrono>

#include "engine/core/error.h"
#include "engine/core/parallel.h"
#include "engine/replication/in_process.h"

namespace aslnet {

std::string algorithm_name(AllReduceAlgorithm algorithm) {
  return algorithm == AllReduceAlgorithm::Ring ? "ring" : "central";
}

AllReduceAlgorithm parse_all_reduce_algorithm(const std::string& name) {
  if (name == "central") return AllReduceAlgorithm::Central;
  if (name == "ring") return AllReduceAlgorithm::Ring;
  ASLNET_CHECK(false) << "all-reduce algorithm '" << name << "': expected central or ring";
  return AllReduceAlgorithm::Central;
}

namespace ring {

// Values per parallel_for task, as the central sum uses: small segments stay on the calling thread.
constexpr int64_t kGrain = 1 << 16;

template <class T>
void add_into(T* mine, const T* theirs, int64_t begin, int64_t end) {
  // theirs + mine, in that order: the partial sum so far comes first, this rank's values are added to
  // it (IEEE addition is commutative, so the order of the two operands does not change the bits; the
  // order of the chain does).
  parallel_for(end - begin, kGrain, [&](int64_t lo, int64_t hi) {
    for (int64_t i = begin + lo; i < begin + hi; ++i) mine[i] = theirs[i] + mine[i];
  });
}

template <class T>
void scale(T* data, T factor, int64_t begin, int64_t end) {
  parallel_for(end - begin, kGrain, [&](int64_t lo, int64_t hi) {
    for (int64_t i = begin + lo; i < begin + hi; ++i) data[i] *= factor;
  });
}

template void add_into<float>(float*, const float*, int64_t, int64_t);
template void add_into<double>(double*, const double*, int64_t, int64_t);
template void scale<float>(float*, float, int64_t, int64_t);
template void scale<double>(double*, double, int64_t, int64_t);

namespace {

// Which phases to run, and which segment each rank ends the reduce-scatter owning.
struct Phases {
  bool reduce_scatter = true, all_gather = true;
  // Rank r owns segment r + 1 + shift. An all-reduce uses 0 (rank r owns r + 1: segment 0's chain
  // is then 0, 1, ..., n - 1, the central sum's order); the reduce-scatter and all-gather of --zero 1
  // use -1, so that rank r owns segment r, the chunk the Communicator interface gives it.
  int shift = 0;
};

// This rank's steps (n - 1 per phase) over the n buffers `data` (data[r]: rank r's), `count` values
// each. `barrier(k)` returns once every rank has finished k steps.
template <class T, class Barrier>
void run_steps(const std::vector<void*>& buffers, int rank, int64_t count, Phases phases, Barrier&& barrier) {
  const int n = int(buffers.size());
  auto at = [&](int r) { return static_cast<T*>(buffers[size_t(wrap(r, n))]); };
  auto begin = [&](int s) { return segment_begin(count, n, wrap(s + phases.shift, n)); };
  auto end = [&](int s) { return segment_begin(count, n, wrap(s + phases.shift, n) + 1); };
  T* mine = at(rank);
  const T* left = at(rank - 1);
  int steps = 0;

  // Phase 1, reduce-scatter. Step k: add the left's segment r - k - 1 (which the left summed over
  // ranks r - k - 1 .. r - 1 at its step k - 1, or posted, at k = 0) into this rank's own copy. After
  // the last step this rank holds segment r + 1 summed over all n ranks. (Segment numbers here are
  // before the shift, which only relabels them.)
  for (int k = 0; phases.reduce_scatter && k < n - 1; ++k) {
    const int s = rank - k - 1;
    add_into(mine, left, begin(s), end(s));
    // The owner turns its finished sum into the average, with the factor the central sum uses (so
    // that segment 0, summed in rank order by both, is the same bits).
    if (k == n - 2) scale(mine, T(1) / T(n), begin(rank + 1), end(rank + 1));
    barrier(++steps);  // after the last: no peer reads this buffer any more (a reduce-scatter ends here)
  }
  // Phase 2, all-gather. Step k: copy the left's segment r - k, final (the left owns it at k = 0, or
  // copied it at its step k - 1), into this rank's buffer. Copied, never added: the owner's bits.
  for (int k = 0; phases.all_gather && k < n - 1; ++k) {
    const int s = rank - k;
    std::copy(left + begin(s), left + end(s), mine + begin(s));
    barrier(++steps);  // the last one: no peer reads this buffer any more once it returns
  }
}

}  // namespace
}  // namespace ring

void InProcessCommunicator::wait_for_peers(std::unique_lock<std::mutex>& lock, const std::function<bool()>& ready,
                                           const std::string& what, const std::function<std::string()>& laggards) {
  const auto timeout = std::chrono::duration<double>(group_->options_.timeout_seconds);
  const bool ended = group_->changed_.wait_for(lock, timeout, [&] { return ready() || !group_->failure_.empty(); });
  // A peer that failed (or aborted) ends every wait at once, with its reason.
  if (!group_->failure_.empty()) throw PeerFailure(group_->failure_);
  if (!ended)
    fail(lock, "replica " + std::to_string(rank_) + " waited " + std::to_string(int(timeout.count())) + " s in " +
                   what + " for replica(s) " + laggards());
}

void InProcessCommunicator::ring_all_reduce(int64_t seq) {
  const int n = group_->size();
  std::unique_lock<std::mutex> lock(group_->mutex_);
  // A map's elements stay where they are while others are added: `c` is valid until the last rank
  // through erases it, below.
  auto& c = group_->collectives_.at(seq);
  const Kind kind = c.ranks[size_t(rank_)].kind;
  ring::Phases phases;
  if (kind != Kind::AllReduceAverage) phases = {kind == Kind::ReduceScatterAverage, kind == Kind::AllGather, -1};
  const std::string name = std::string(kind == Kind::AllReduceAverage       ? "ring all-reduce #"
                                       : kind == Kind::ReduceScatterAverage ? "ring reduce-scatter #"
                                                                            : "ring all-gather #") +
                           std::to_string(seq);
  const int total_steps = (n - 1) * (int(phases.reduce_scatter) + int(phases.all_gather));
  // Every rank's buffer is needed from the first step on: wait until all have posted.
  wait_for_peers(lock, [&] { return c.arrived == n; }, "collective #" + std::to_string(seq), [&] {
    std::string missing;
    for (int r = 0; r < n; ++r)
      if (!c.ranks[size_t(r)].arrived) missing += (missing.empty() ? "" : ", ") + std::to_string(r);
    return missing + ", which never arrived (stopped or hung?)";
  });
  lock.unlock();
  // Posts are final once all have arrived; each rank checks them itself (they must be the same
  // collective of the same size and type everywhere) before touching a peer's buffer.
  check_same(c, seq);
  const Tensor& own = c.ranks[size_t(rank_)].buffer;
  std::vector<void*> buffers(static_cast<size_t>(n));
  for (int r = 0; r < n; ++r) buffers[size_t(r)] = c.ranks[size_t(r)].buffer.raw();

  auto barrier = [&](int steps) {
    std::unique_lock<std::mutex> step_lock(group_->mutex_);
    c.steps_done[size_t(rank_)] = steps;
    group_->changed_.notify_all();
    wait_for_peers(step_lock, [&] { return *std::min_element(c.steps_done.begin(), c.steps_done.end()) >= steps; },
                   name + " (step " + std::to_string(steps) + " of " + std::to_string(total_steps) + ")", [&] {
                     std::string late;
                     for (int r = 0; r < n; ++r)
                       if (c.steps_done[size_t(r)] < steps) late += (late.empty() ? "" : ", ") + std::to_string(r);
                     return late + ", which never finished that step (stopped or hung?)";
                   });
  };
  try {
    if (own.dtype() == DType::F64) {
      ring::run_steps<double>(buffers, rank_, own.numel(), phases, barrier);
    } else {
      ASLNET_CHECK(own.dtype() == DType::F32) << "all-reduce of " << dtype_name(own.dtype());
      ring::run_steps<float>(buffers, rank_, own.numel(), phases, barrier);
    }
  } catch (const PeerFailure&) {
    throw;
  } catch (const std::exception& e) {
    // This rank cannot go on: the others must not wait for its next step.
    lock.lock();
    fail(lock, "replica " + std::to_string(rank_) + " failed in " + name + ": " + e.what());
  }
  // Every rank is through the last barrier: the last to leave lets the group forget the collective.
  lock.lock();
  if (++c.finished == n) group_->collectives_.erase(seq);
}

// --zero 1's collectives: the ring's phases on their own, on a buffer of n equal chunks (chunk r is
// segment r: rank r owns it after the reduce-scatter). Each moves half of an all-reduce's bytes. With
// the central algorithm, Communicator's defaults (an all-reduce; a broadcast per chunk).
void InProcessCommunicator::start_reduce_scatter_average(const Tensor& buffer, cudaStream_t stream) {
  if (group_->algorithm() != AllReduceAlgorithm::Ring || size() == 1) {
    Communicator::start_reduce_scatter_average(buffer, stream);
    return;
  }
  ASLNET_CHECK(buffer.numel() % size() == 0)
      << "a reduce-scatter of " << buffer.numel() << " values over " << size() << " ranks (a multiple of the ranks)";
  InProcessGroup::Contribution mine;
  mine.kind = Kind::ReduceScatterAverage;
  mine.buffer = buffer;
  mine.stream = stream;
  started_.push_back(post(std::move(mine)));
}

void InProcessCommunicator::all_gather(const Tensor& buffer, cudaStream_t stream) {
  if (group_->algorithm() != AllReduceAlgorithm::Ring || size() == 1) {
    Communicator::all_gather(buffer, stream);
    return;
  }
  ASLNET_CHECK(buffer.numel() % size() == 0)
      << "an all-gather of " << buffer.numel() << " values over " << size() << " ranks (a multiple of the ranks)";
  InProcessGroup::Contribution mine;
  mine.kind = Kind::AllGather;
  mine.buffer = buffer;
  mine.stream = stream;
  complete(post(std::move(mine)), stream);
}

}  // namespace aslnet
