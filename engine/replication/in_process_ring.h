// Which algorithm the in-process communicator (in_process.h) uses for its all-reduces, and the ring's
// arithmetic on one segment. The ring itself, step by step, is in in_process_ring.cpp.
//
// Two algorithms, the same answer up to float rounding:
//
//   central (the default): the last replica to arrive sums every buffer, in rank order, and writes
//     the average into all of them. One thread reads n buffers and writes n: simple, one
//     synchronisation, but all the memory traffic of the collective goes through one replica's
//     thread(s) while the others wait.
//
//   ring: the buffer is cut into n segments and each replica's own thread does 1/n of the work, in
//     2(n - 1) steps separated by group-wide barriers (the shared-memory twin of the TCP ring,
//     tcp_ring.h, and of the ring NCCL, Horovod and Baidu's ring-allreduce use between GPUs):
//       reduce-scatter, n - 1 steps: at step k replica r adds segment r - k - 1 of its left-hand
//         neighbour (r - 1)'s buffer into its own; after n - 1 steps replica r holds segment r + 1
//         summed over all n replicas, which it scales by 1/n;
//       all-gather, n - 1 steps: at step k replica r copies segment r - k, final, from its left-hand
//         neighbour into its own buffer.
//     Every replica reads and writes 5 (n - 1) / n of the buffer in all (3 per added value: two
//     reads and a write; 2 per copied one) rather than one thread doing 2n buffers' worth, and the
//     price is 2(n - 1) synchronisations instead of one.
//
// The two phases also serve on their own as the reduce-scatter and all-gather of --zero 1
// (Communicator::start_reduce_scatter_average, all_gather): each moves half the all-reduce's bytes, and
// rank r ends the reduce-scatter owning segment r, the chunk that interface gives it.
//
// Bits: each segment is summed exactly once, by a fixed chain (segment s: replica s's values, plus
// s + 1's, ..., plus s - 1's, in that order) and then only copied, so every replica ends with the same
// bits, run after run. Against the central sum (order 0, 1, ..., n - 1): segment 0 is summed in the
// same order, so it is the same bits; with 2 replicas every segment is (a + b == b + a exactly in
// IEEE arithmetic); from 3 replicas on the other segments are summed in a rotated order and may differ
// in the last bits (a relative difference of about n * 2^-24 in f32 at worst, usually none).
#pragma once

#include <cstdint>
#include <string>

namespace aslnet {

enum class AllReduceAlgorithm { Central, Ring };

// "central" or "ring".
std::string algorithm_name(AllReduceAlgorithm algorithm);
// The inverse; an Error naming the choices for anything else.
AllReduceAlgorithm parse_all_reduce_algorithm(const std::string& name);

namespace ring {

// Segment s of a buffer of `count` values cut into n: [segment_begin(count, n, s), segment_begin(count,
// n, s + 1)). The n sizes differ by at most one value; with fewer values than replicas some are empty
// (the steps still run, so every replica stays in step).
inline int64_t segment_begin(int64_t count, int n, int s) { return count * s / n; }
// Ring arithmetic: the segment (or rank) s modulo n, also for negative s (rank 0's left is n - 1).
inline int wrap(int s, int n) { return ((s % n) + n) % n; }

// mine[i] = theirs[i] + mine[i] for i in [begin, end): one reduce-scatter step on one segment.
template <class T>
void add_into(T* mine, const T* theirs, int64_t begin, int64_t end);
// data[i] *= scale for i in [begin, end): the owner's sum becomes the average.
template <class T>
void scale(T* data, T factor, int64_t begin, int64_t end);

}  // namespace ring
}  // namespace aslnet
