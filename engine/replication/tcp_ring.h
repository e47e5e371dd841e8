// Collectives over a ring of TCP connections (tcp_rendezvous.h makes the ring): each rank sends only
// to its right-hand neighbour (rank + 1) and receives only from its left-hand one (rank - 1). This is
// the transport of torchrun's and srun's CPU ranks (TcpCommunicator) and carries NCCL's unique id when
// GPU ranks start without MPI.
//
// The ring all-reduce, which students read (tcp_ring.cpp has it step by step):
//   The buffer is cut into `size` segments. In the first phase (reduce-scatter), every rank at every
//   step sends one segment to its right and adds the segment arriving from its left into its own
//   copy; after size - 1 steps each rank holds one segment summed over all ranks. In the second phase
//   (all-gather), the finished segments travel once more around the ring, copied, not added. Every
//   rank sends and receives 2 (size - 1) / size of the buffer in all, whatever the number of ranks:
//   the reason rings are what NCCL and Horovod use for large buffers.
//   Each segment is summed exactly once, by a fixed chain of ranks (segment s: rank s's values, plus
//   rank s + 1's, plus s + 2's, ... in that order), and then copied: every rank ends with the same bits,
//   and the same inputs give the same bits on every run.
//
// Every message starts with a header naming the collective (its kind, its sequence number on this
// rank, its size), so ranks that call different collectives stop with a message saying so instead of
// mixing their data. The watchdog: a neighbour whose connection closes (it failed or was killed) ends
// the wait at once; one that stays silent ends it after the timeout (no byte moved for that long).
// Either way this rank tells both neighbours why it stops (an abort message, then it closes its
// connections), so the failure goes around the ring in both directions within milliseconds.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "engine/replication/tcp_rendezvous.h"

namespace aslnet {

class TcpRing {
 public:
  // `links`: this rank's connections (for size 1, none). Every wait lasts at most `timeout_seconds`
  // without progress.
  TcpRing(int rank, int size, RingLinks links, double timeout_seconds);

  int rank() const { return rank_; }
  int size() const { return size_; }

  // Replaces `data` by its sum over all ranks (the same bits on every rank). `what` names the
  // collective in errors ("an all-reduce of gradients").
  void all_reduce_sum(float* data, int64_t count, const char* what);
  void all_reduce_sum(double* data, int64_t count, const char* what);
  // Copies `root`'s bytes into every rank's.
  void broadcast(void* data, size_t bytes, int root, const char* what);
  // The all-reduce's two phases alone, on `size` equal chunks (count, bytes: multiples of size; chunk
  // r is rank r's). reduce_scatter_sum: chunk rank() of `data` becomes its sum over all ranks (the
  // other chunks hold partial sums). all_gather: each rank's chunk r into chunk r of every rank's data.
  void reduce_scatter_sum(float* data, int64_t count, const char* what);
  void reduce_scatter_sum(double* data, int64_t count, const char* what);
  void all_gather(void* data, size_t bytes, const char* what);

  // Tells both neighbours that this rank stops (`why` is the message they report) and closes the
  // connections. Never throws; safe from another thread.
  void abort(const std::string& why) noexcept;

 private:
  enum class Kind : uint32_t {
    SumF32 = 1,
    SumF64 = 2,
    Broadcast = 3,
    Abort = 4,
    ReduceScatterF32 = 5,
    ReduceScatterF64 = 6,
    AllGather = 7
  };
  struct Header {
    uint32_t magic = 0;
    uint32_t kind = 0;
    uint64_t seq = 0;    // the collective's number on the sending rank: the same on every rank
    uint64_t bytes = 0;  // the payload that follows
  };
  // One message to the right-hand neighbour, and one from the left-hand one.
  struct Outgoing {
    Header header;
    const char* data = nullptr;
    size_t bytes = 0;
  };
  struct Incoming {
    Header expected;
    char* data = nullptr;
    size_t bytes = 0;
    std::function<void(size_t)> arrived;  // called with the payload bytes received so far
  };

  template <typename T>
  void ring_all_reduce(T* data, int64_t count, Kind kind, const char* what);
  template <typename T>
  void ring_reduce_scatter(T* data, int64_t count, Kind kind, const char* what);
  // The all-reduce's phases (tcp_ring.cpp); segment s lies at position s + shift of the buffer.
  template <typename T>
  void reduce_scatter_phase(T* data, int64_t count, int shift, Kind kind, const char* what);
  void all_gather_phase(char* data, int64_t count, size_t elem, int shift, Kind kind, const char* what);
  // Sends `out` (if any) while receiving `in` (if any), whichever the sockets allow first.
  void exchange(const Outgoing* out, Incoming* in, const char* what);
  // What the right-hand neighbour sent: its end of file (fine once this rank has nothing more for it)
  // or an abort.
  void read_from_right(bool still_sending, const char* what);
  [[noreturn]] void fail_from_peer(const Socket& from, const Header& header);
  // Stops the ring: `here` is this rank's error, `for_peers` what the neighbours are told.
  [[noreturn]] void fail(const std::string& here, const std::string& for_peers);
  void send_abort(const std::string& why) noexcept;
  uint64_t begin_collective();
  Header header(Kind kind, size_t bytes) const;
  std::string me() const { return "rank " + std::to_string(rank_); }

  const int rank_, size_;
  const int left_rank_, right_rank_;
  RingLinks links_;
  const double timeout_seconds_;
  uint64_t seq_ = 0;           // collectives started by this rank
  bool right_closed_ = false;  // the right-hand neighbour has finished and closed
  bool mid_message_ = false;   // a message to the right is half sent (an abort would garble it)
  std::vector<char> scratch_;  // the reduce-scatter's incoming segment
  std::atomic<bool> busy_{false};
  std::atomic<bool> failed_{false};
  std::mutex failure_mutex_;
  std::string failure_;
};

}  // namespace aslnet
