// How torchrun's and srun's processes find each other without MPI: rank 0 listens on the rendezvous
// address (MASTER_ADDR:MASTER_PORT, see launch_environment.h), every other rank connects to it,
// retrying until the timeout since ranks start in any order, and says which rank it is and on which
// port it listens itself. Once all have come, rank 0 tells each rank where its right-hand neighbour
// listens, and every rank r connects to rank r + 1 (the last to rank 0) and accepts rank r - 1: a ring
// of TCP connections, which TcpRing (tcp_ring.h) runs the collectives over.
//
// The messages are fixed-size structs in the machines' own byte order (the ranks of a run share it).
#pragma once

#include <string>

#include "engine/replication/tcp_socket.h"

namespace aslnet {

// This rank's two connections of the ring.
struct RingLinks {
  Socket left;   // from rank - 1 (the data this rank receives)
  Socket right;  // to rank + 1 (the data this rank sends)
};

// Every wait lasts at most `timeout_seconds`; past it, an Error says what waited for whom.
RingLinks tcp_rendezvous(int rank, int size, const std::string& master_addr, int master_port, double timeout_seconds);

}  // namespace aslnet
