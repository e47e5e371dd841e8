#include "engine/replication/tcp_ring.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "engine/replication/communicator.h"

namespace aslnet {

namespace {

constexpr uint32_t kMagic = 0x4d534c41;  // "ALSM": the start of every ring message
constexpr size_t kChunk = 1 << 20;       // bytes received per call: the sum runs as chunks land
constexpr size_t kMaxAbortText = 4096;

const char* kind_name(uint32_t kind) {
  switch (kind) {
    case 1:
      return "an all-reduce (f32)";
    case 2:
      return "an all-reduce (f64)";
    case 3:
      return "a broadcast";
    case 4:
      return "an abort";
    case 5:
      return "a reduce-scatter (f32)";
    case 6:
      return "a reduce-scatter (f64)";
    case 7:
      return "an all-gather";
    default:
      return "an unknown message";
  }
}

bool would_block() { return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR; }

// Marks this thread as the ring's user for one collective (one thread at a time uses a ring).
class BusyGuard {
 public:
  explicit BusyGuard(std::atomic<bool>& busy) : busy_(busy) {}
  ~BusyGuard() { busy_ = false; }

 private:
  std::atomic<bool>& busy_;
};

}  // namespace

TcpRing::TcpRing(int rank, int size, RingLinks links, double timeout_seconds)
    : rank_(rank),
      size_(size),
      left_rank_((rank + size - 1) % size),
      right_rank_((rank + 1) % size),
      links_(std::move(links)),
      timeout_seconds_(timeout_seconds) {
  ASLNET_CHECK(size == 1 || (links_.left.valid() && links_.right.valid()))
      << "a ring of " << size << " ranks needs both neighbours' connections";
}

TcpRing::Header TcpRing::header(Kind kind, size_t bytes) const {
  Header h;
  h.magic = kMagic;
  h.kind = uint32_t(kind);
  h.seq = seq_;
  h.bytes = bytes;
  return h;
}

uint64_t TcpRing::begin_collective() {
  if (failed_) {
    std::lock_guard<std::mutex> lock(failure_mutex_);
    throw PeerFailure(failure_);
  }
  ASLNET_CHECK(!busy_.exchange(true)) << "two threads used one TCP ring at once";
  return ++seq_;
}

// ---- The all-reduce -------------------------------------------------------------------------------

void TcpRing::all_reduce_sum(float* data, int64_t count, const char* what) {
  ring_all_reduce(data, count, Kind::SumF32, what);
}

void TcpRing::all_reduce_sum(double* data, int64_t count, const char* what) {
  ring_all_reduce(data, count, Kind::SumF64, what);
}

template <typename T>
void TcpRing::ring_all_reduce(T* data, int64_t count, Kind kind, const char* what) {
  begin_collective();
  BusyGuard guard(busy_);
  if (size_ == 1) return;
  reduce_scatter_phase(data, count, 0, kind, what);
  all_gather_phase(reinterpret_cast<char*>(data), count, sizeof(T), 0, kind, what);
}

// Segment s of a buffer of `count` values is [first(s), first(s + 1)), first(s) = count * s / n: n parts
// whose sizes differ by at most one value. With fewer values than ranks some segments are empty; their
// messages are a bare header, which keeps every rank's steps in lockstep. The phases below number
// segments in ring arithmetic; segment s lies at position s + shift of the buffer (shift 0 for the
// all-reduce; -1 for the exposed reduce-scatter and all-gather, so that rank r's chunk is chunk r).
template <typename T>
void TcpRing::reduce_scatter_phase(T* data, int64_t count, int shift, Kind kind, const char* what) {
  const int n = size_;
  auto position = [&](int s) { return (((s + shift) % n) + n) % n; };  // ring arithmetic: rank - 1 of 0 is n - 1
  auto first = [&](int p) { return count * p / n; };
  auto bytes_of = [&](int p) { return size_t(first(p + 1) - first(p)) * sizeof(T); };
  auto at = [&](int p) { return reinterpret_cast<char*>(data + first(p)); };
  scratch_.resize(size_t((count + n - 1) / n) * sizeof(T));

  // Phase 1, reduce-scatter. At step k, rank r sends segment r - k (which it has summed over ranks
  // r - k .. r so far) and receives segment r - k - 1 from rank r - 1 (summed over ranks r - k - 1 ..
  // r - 1), adding its own values to it. Segment s thus starts at rank s and gathers one rank's values
  // per step; after n - 1 steps rank r holds segment r + 1 summed over all n ranks, in the order
  // s, s + 1, ..., s - 1, the same every run.
  for (int step = 0; step < n - 1; ++step) {
    const int send = position(rank_ - step), receive = position(rank_ - step - 1);
    Outgoing out{header(kind, bytes_of(send)), at(send), bytes_of(send)};
    T* mine = data + first(receive);
    const T* theirs = reinterpret_cast<const T*>(scratch_.data());
    int64_t added = 0;
    // The sum runs as the bytes arrive (chunks of up to kChunk), while the rest is still on the wire.
    Incoming in{header(kind, bytes_of(receive)), scratch_.data(), bytes_of(receive), [&](size_t bytes) {
                  const int64_t complete = int64_t(bytes / sizeof(T));
                  for (; added < complete; ++added) mine[added] = theirs[added] + mine[added];
                }};
    exchange(&out, &in, what);
  }
}

void TcpRing::all_gather_phase(char* data, int64_t count, size_t elem, int shift, Kind kind, const char* what) {
  const int n = size_;
  auto position = [&](int s) { return (((s + shift) % n) + n) % n; };
  auto first = [&](int p) { return count * p / n; };
  auto bytes_of = [&](int p) { return size_t(first(p + 1) - first(p)) * elem; };
  auto at = [&](int p) { return data + size_t(first(p)) * elem; };
  // Phase 2, all-gather. At step k, rank r sends segment r + 1 - k (final: its own at step 0, then the
  // one it received at step k - 1) and receives segment r - k, final too, straight into its buffer.
  // Values are copied, never added again, so every rank ends with exactly the owner's bits.
  for (int step = 0; step < n - 1; ++step) {
    const int send = position(rank_ + 1 - step), receive = position(rank_ - step);
    Outgoing out{header(kind, bytes_of(send)), at(send), bytes_of(send)};
    Incoming in{header(kind, bytes_of(receive)), at(receive), bytes_of(receive), nullptr};
    exchange(&out, &in, what);
  }
}

// The two phases on their own (ZeRO's sharded optimizer, zero_shards.h), with rank r's chunk at
// position r: the all-reduce leaves rank r with segment r + 1, so they number segments one behind.
void TcpRing::reduce_scatter_sum(float* data, int64_t count, const char* what) {
  ring_reduce_scatter(data, count, Kind::ReduceScatterF32, what);
}

void TcpRing::reduce_scatter_sum(double* data, int64_t count, const char* what) {
  ring_reduce_scatter(data, count, Kind::ReduceScatterF64, what);
}

template <typename T>
void TcpRing::ring_reduce_scatter(T* data, int64_t count, Kind kind, const char* what) {
  ASLNET_CHECK(count % size_ == 0) << "a reduce-scatter of " << count << " values over " << size_ << " ranks";
  begin_collective();
  BusyGuard guard(busy_);
  if (size_ == 1) return;
  reduce_scatter_phase(data, count, -1, kind, what);
}

void TcpRing::all_gather(void* data, size_t bytes, const char* what) {
  ASLNET_CHECK(bytes % size_t(size_) == 0) << "an all-gather of " << bytes << " bytes over " << size_ << " ranks";
  begin_collective();
  BusyGuard guard(busy_);
  if (size_ == 1) return;
  all_gather_phase(static_cast<char*>(data), int64_t(bytes), 1, -1, Kind::AllGather, what);
}

// A broadcast goes around the ring once: the root sends, each rank after it receives the whole buffer
// and passes it on, and the rank before the root only receives. (Not pipelined: it runs once, at the
// start of training.)
void TcpRing::broadcast(void* data, size_t bytes, int root, const char* what) {
  ASLNET_CHECK(root >= 0 && root < size_) << "broadcast from rank " << root << " in a ring of " << size_;
  begin_collective();
  BusyGuard guard(busy_);
  if (size_ == 1) return;
  char* buffer = static_cast<char*>(data);
  if (rank_ != root) {
    Incoming in{header(Kind::Broadcast, bytes), buffer, bytes, nullptr};
    exchange(nullptr, &in, what);
  }
  if (right_rank_ != root) {
    const Outgoing out{header(Kind::Broadcast, bytes), buffer, bytes};
    exchange(&out, nullptr, what);
  }
}

// ---- Moving bytes, with the watchdog ----------------------------------------------------------------

void TcpRing::exchange(const Outgoing* out, Incoming* in, const char* what) {
  // Sending and receiving at once, as the sockets allow, is what keeps the ring from deadlocking: if
  // every rank first sent its whole segment, each would wait for its right-hand neighbour to read,
  // which waits for its own, all the way round, as soon as segments outgrow the sockets' buffers.
  const size_t send_total = out != nullptr ? sizeof(Header) + out->bytes : 0;
  const size_t receive_total = in != nullptr ? sizeof(Header) + in->bytes : 0;
  size_t sent = 0, received = 0;
  Header arrived;
  auto deadline = deadline_after(timeout_seconds_);
  while (sent < send_total || received < receive_total) {
    if (right_closed_ && sent < send_total)
      fail(me() + ": rank " + std::to_string(right_rank_) + " closed its connection before " + what + " #" +
               std::to_string(seq_) + " (it failed or was killed)",
           "");
    pollfd fds[2];
    int count = 0, right = -1, left = -1;
    if (!right_closed_) {
      // The right-hand neighbour never sends data: anything readable there is an abort or its end of file.
      right = count;
      fds[count++] = pollfd{links_.right.fd(), short(POLLIN | (sent < send_total ? POLLOUT : 0)), 0};
    }
    if (received < receive_total) {
      left = count;
      fds[count++] = pollfd{links_.left.fd(), POLLIN, 0};
    }
    const int ready = ::poll(fds, nfds_t(count), poll_timeout_ms(deadline));
    if (failed_) {  // abort() from another thread
      std::lock_guard<std::mutex> lock(failure_mutex_);
      throw PeerFailure(failure_);
    }
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) fail(me() + ": poll: " + std::strerror(errno), "");
    if (ready == 0) {
      std::string waiting;
      if (received < receive_total) waiting = "nothing from rank " + std::to_string(left_rank_);
      if (sent < send_total)
        waiting += (waiting.empty() ? "" : ", ") + ("rank " + std::to_string(right_rank_) + " not reading");
      fail(me() + ": " + what + " #" + std::to_string(seq_) + " waited " + std::to_string(int(timeout_seconds_)) +
               " s for the other ranks (" + waiting + "; one stopped or hung?)",
           "");
    }
    bool progress = false;
    if (right >= 0 && (fds[right].revents & (POLLIN | POLLHUP | POLLERR)) != 0)
      read_from_right(sent < send_total, what);
    if (right >= 0 && !right_closed_ && (fds[right].revents & POLLOUT) != 0 && sent < send_total) {
      // The header and the payload leave in one call (no small packet of its own for the header).
      iovec parts[2];
      int used = 0;
      if (sent < sizeof(Header))
        parts[used++] = iovec{reinterpret_cast<char*>(const_cast<Header*>(&out->header)) + sent, sizeof(Header) - sent};
      const size_t payload_sent = sent > sizeof(Header) ? sent - sizeof(Header) : 0;
      if (payload_sent < out->bytes)
        parts[used++] = iovec{const_cast<char*>(out->data) + payload_sent, out->bytes - payload_sent};
      msghdr message{};
      message.msg_iov = parts;
      message.msg_iovlen = size_t(used);
      const ssize_t n = ::sendmsg(links_.right.fd(), &message, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        sent += size_t(n);
        progress = true;
      } else if (!would_block()) {
        fail(me() + ": rank " + std::to_string(right_rank_) + " closed its connection during " + what + " #" +
                 std::to_string(seq_) + " (it failed or was killed)",
             "");
      }
      mid_message_ = sent > 0 && sent < send_total;
    }
    if (left >= 0 && (fds[left].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
      const bool in_header = received < sizeof(Header);
      char* to = in_header ? reinterpret_cast<char*>(&arrived) + received : in->data + (received - sizeof(Header));
      const size_t want = in_header ? sizeof(Header) - received : std::min(receive_total - received, kChunk);
      const ssize_t n = ::recv(links_.left.fd(), to, want, MSG_DONTWAIT);
      if (n == 0 || (n < 0 && !would_block()))
        fail(me() + ": rank " + std::to_string(left_rank_) + " closed its connection during " + what + " #" +
                 std::to_string(seq_) + " (it failed or was killed)",
             "");
      if (n > 0) {
        received += size_t(n);
        progress = true;
        if (in_header && received == sizeof(Header)) {
          if (arrived.magic == kMagic && arrived.kind == uint32_t(Kind::Abort)) fail_from_peer(links_.left, arrived);
          const Header& e = in->expected;
          if (arrived.magic != kMagic || arrived.kind != e.kind || arrived.seq != e.seq || arrived.bytes != e.bytes)
            fail(me() + ": collective #" + std::to_string(e.seq) + " differs between ranks: rank " +
                     std::to_string(left_rank_) + " sent " + kind_name(arrived.kind) + " #" +
                     std::to_string(arrived.seq) + " of " + std::to_string(arrived.bytes) + " bytes, rank " +
                     std::to_string(rank_) + " expected " + kind_name(e.kind) + " of " + std::to_string(e.bytes) +
                     " bytes (every rank must call the same collectives in order)",
                 "");
        }
        if (!in_header && in->arrived) in->arrived(received - sizeof(Header));
      }
    }
    if (progress) deadline = deadline_after(timeout_seconds_);
  }
}

void TcpRing::read_from_right(bool still_sending, const char* what) {
  Header h;
  const ssize_t n = ::recv(links_.right.fd(), &h, sizeof(h), MSG_DONTWAIT | MSG_PEEK);
  if (n < 0 && would_block()) return;
  if (n <= 0) {
    // End of file. A neighbour that has received everything it needs may finish and exit while this
    // rank still waits for its left-hand one: only an unfinished send makes it an error.
    right_closed_ = true;
    if (still_sending)
      fail(me() + ": rank " + std::to_string(right_rank_) + " closed its connection during " + what + " #" +
               std::to_string(seq_) + " (it failed or was killed)",
           "");
    return;
  }
  // An abort is sent whole; wait a moment for all of its header.
  if (recv_all(links_.right, &h, sizeof(h), deadline_after(1.0)) == Transfer::Done && h.magic == kMagic &&
      h.kind == uint32_t(Kind::Abort))
    fail_from_peer(links_.right, h);
  fail(me() + ": rank " + std::to_string(right_rank_) + " sent data the wrong way round the ring", "");
}

void TcpRing::fail_from_peer(const Socket& from, const Header& header) {
  std::string why(std::min<size_t>(header.bytes, kMaxAbortText), '\0');
  if (recv_all(from, why.data(), why.size(), deadline_after(1.0)) != Transfer::Done)
    why = "rank " + std::to_string(&from == &links_.left ? left_rank_ : right_rank_) + " stopped";
  // This rank's error names the reason; the neighbours get the same reason, so it goes round the ring.
  fail(me() + " stopped because " + why, why);
}

// ---- Stopping ---------------------------------------------------------------------------------------

void TcpRing::fail(const std::string& here, const std::string& for_peers) {
  {
    std::lock_guard<std::mutex> lock(failure_mutex_);
    if (failure_.empty()) failure_ = here;
  }
  failed_ = true;
  send_abort(for_peers.empty() ? here : for_peers);
  links_.left.shutdown();
  links_.right.shutdown();
  throw PeerFailure(here);
}

void TcpRing::send_abort(const std::string& why) noexcept {
  const std::string text = why.substr(0, kMaxAbortText);
  const Header h = header(Kind::Abort, text.size());
  auto tell = [&](const Socket& to) {
    const auto soon = deadline_after(1.0);
    try {
      if (send_all(to, &h, sizeof(h), soon) == Transfer::Done) send_all(to, text.data(), text.size(), soon);
    } catch (...) {  // best effort: the closed connection says enough
    }
  };
  if (size_ == 1) return;
  // The left-hand connection carries nothing from this rank but aborts; the right-hand one only
  // between messages.
  tell(links_.left);
  if (!mid_message_ && !right_closed_) tell(links_.right);
}

void TcpRing::abort(const std::string& why) noexcept {
  if (failed_.exchange(true)) return;
  {
    std::lock_guard<std::mutex> lock(failure_mutex_);
    if (failure_.empty()) failure_ = why;
  }
  // Between collectives this rank owns the sockets and can say why; during one (another thread) it
  // only closes them, and that thread's wait ends at once.
  if (!busy_.exchange(true)) send_abort(why);
  links_.left.shutdown();
  links_.right.shutdown();
}

}  // namespace aslnet
