#include "engine/replication/tcp_rendezvous.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "engine/core/error.h"

namespace aslnet {

namespace {

constexpr uint32_t kJoinMagic = 0x4a4c5341;  // "ASLJ": a rank joining at rank 0
constexpr uint32_t kRingMagic = 0x524c5341;  // "ASLR": a rank connecting to its right-hand neighbour

struct Join {
  uint32_t magic = kJoinMagic;
  uint32_t rank = 0, size = 0;
  uint32_t port = 0;  // where this rank accepts its left-hand neighbour
};

// Rank 0's answer: where the joiner's right-hand neighbour listens (an empty host: the rendezvous
// address itself, for the last rank, whose right-hand neighbour is rank 0).
struct Neighbour {
  char host[64] = {};
  uint32_t port = 0;
};

struct RingHello {
  uint32_t magic = kRingMagic;
  uint32_t rank = 0, size = 0;
};

std::string seconds_text(double seconds) { return std::to_string(int(seconds)) + " s"; }

// Rank 0: waits for the other size - 1 ranks and answers each with its neighbour's address.
// Returns where rank 1 listens (rank 0's right-hand neighbour).
Neighbour gather_joins(const Socket& listener, int size, int port, TcpClock::time_point deadline, double timeout) {
  std::vector<Socket> joined(static_cast<size_t>(size));
  std::vector<Neighbour> listens(static_cast<size_t>(size));
  for (int arrived = 1; arrived < size;) {
    Socket s = accept_tcp(listener, deadline);
    if (!s.valid()) {
      std::string missing;
      for (int r = 1; r < size; ++r)
        if (!joined[size_t(r)].valid()) missing += (missing.empty() ? "" : ", ") + std::to_string(r);
      ASLNET_CHECK(false) << "rank 0 waited " << seconds_text(timeout) << " on port " << port << " for rank(s) "
                          << missing << " to connect (not started, or given another MASTER_ADDR/MASTER_PORT?)";
    }
    Join join;
    // Something else connecting to the port (a scanner, a stale run) is dropped, not trusted; a rank
    // sends its Join as soon as it has connected, so a few seconds are plenty.
    const auto soon = std::min(deadline, deadline_after(5.0));
    if (recv_all(s, &join, sizeof(join), soon) != Transfer::Done || join.magic != kJoinMagic) continue;
    ASLNET_CHECK(int(join.size) == size) << "rank " << join.rank << " says the run has " << join.size
                                         << " ranks, rank 0 says " << size << " (WORLD_SIZE or SLURM_NTASKS differ)";
    ASLNET_CHECK(join.rank >= 1 && int(join.rank) < size && !joined[join.rank].valid())
        << "two processes say they are rank " << join.rank << " (RANK or SLURM_PROCID repeated)";
    const std::string host = peer_address(s);
    std::strncpy(listens[join.rank].host, host.c_str(), sizeof(listens[join.rank].host) - 1);
    listens[join.rank].port = join.port;
    joined[join.rank] = std::move(s);
    ++arrived;
  }
  for (int r = 1; r < size; ++r) {
    const Neighbour right = r + 1 < size ? listens[size_t(r) + 1] : Neighbour{};
    ASLNET_CHECK(send_all(joined[size_t(r)], &right, sizeof(right), deadline) == Transfer::Done)
        << "rank 0: rank " << r << " left the rendezvous before it was complete";
  }
  return listens[1];
}

// Any other rank: joins at rank 0 and learns where its right-hand neighbour listens.
Neighbour join_at_rank0(int rank, int size, int own_port, const std::string& master_addr, int master_port,
                        TcpClock::time_point deadline, double timeout) {
  std::string why;
  Socket s = connect_tcp(master_addr, master_port, deadline, why);
  ASLNET_CHECK(s.valid()) << "rank " << rank << " could not reach rank 0 at " << master_addr << ":" << master_port
                          << " in " << seconds_text(timeout) << " (" << why << ")";
  Join join;
  join.rank = uint32_t(rank);
  join.size = uint32_t(size);
  join.port = uint32_t(own_port);
  Neighbour right;
  const bool sent = send_all(s, &join, sizeof(join), deadline) == Transfer::Done;
  const Transfer answer = sent ? recv_all(s, &right, sizeof(right), deadline) : Transfer::Closed;
  ASLNET_CHECK(answer != Transfer::TimedOut)
      << "rank " << rank << " waited " << seconds_text(timeout) << " at " << master_addr << ":" << master_port
      << " for the other ranks to connect to rank 0";
  ASLNET_CHECK(answer == Transfer::Done) << "rank " << rank << ": rank 0 at " << master_addr << ":" << master_port
                                         << " closed the rendezvous (it failed, or another run owns the port?)";
  return right;
}

}  // namespace

RingLinks tcp_rendezvous(int rank, int size, const std::string& master_addr, int master_port, double timeout) {
  ASLNET_CHECK(size >= 2 && rank >= 0 && rank < size) << "a TCP ring of rank " << rank << " of " << size;
  const auto deadline = deadline_after(timeout);
  // Every rank listens before it joins, so its left-hand neighbour can connect as soon as it knows where.
  Socket listener = listen_tcp(rank == 0 ? master_port : 0);
  Neighbour right = rank == 0
                        ? gather_joins(listener, size, master_port, deadline, timeout)
                        : join_at_rank0(rank, size, local_port(listener), master_addr, master_port, deadline, timeout);
  const std::string right_host = right.host[0] != '\0' ? std::string(right.host) : master_addr;
  const int right_port = right.host[0] != '\0' ? int(right.port) : master_port;
  const int right_rank = (rank + 1) % size, left_rank = (rank + size - 1) % size;

  RingLinks links;
  std::string why;
  links.right = connect_tcp(right_host, right_port, deadline, why);
  ASLNET_CHECK(links.right.valid()) << "rank " << rank << " could not reach rank " << right_rank << " at " << right_host
                                    << ":" << right_port << " (" << why << ")";
  RingHello hello;
  hello.rank = uint32_t(rank);
  hello.size = uint32_t(size);
  ASLNET_CHECK(send_all(links.right, &hello, sizeof(hello), deadline) == Transfer::Done)
      << "rank " << rank << ": rank " << right_rank << " closed the connection as the ring formed";
  for (;;) {
    links.left = accept_tcp(listener, deadline);
    ASLNET_CHECK(links.left.valid()) << "rank " << rank << " waited " << seconds_text(timeout) << " for rank "
                                     << left_rank << " to connect as the ring formed";
    RingHello from;
    if (recv_all(links.left, &from, sizeof(from), deadline) == Transfer::Done && from.magic == kRingMagic) {
      ASLNET_CHECK(int(from.rank) == left_rank && int(from.size) == size)
          << "rank " << rank << " expected rank " << left_rank << " of " << size << " on its left, got rank "
          << from.rank << " of " << from.size;
      break;
    }
  }
  make_ring_socket(links.left);
  make_ring_socket(links.right);
  return links;
}

}  // namespace aslnet
