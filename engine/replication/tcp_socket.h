// The few TCP calls the rendezvous and the ring need, over POSIX sockets (IPv4): a socket that closes
// itself, listening, connecting with retries, and whole-message transfers with a deadline. Every wait
// ends by its deadline; nothing here blocks without one.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

namespace aslnet {

using TcpClock = std::chrono::steady_clock;

// A connected or listening socket; closed when destroyed. Move-only.
class Socket {
 public:
  Socket() = default;
  explicit Socket(int fd) : fd_(fd) {}
  ~Socket() { close(); }
  Socket(Socket&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  Socket& operator=(Socket&& other) noexcept;
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;

  int fd() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  void close() noexcept;
  // Ends both directions now (the peer reads end-of-file at once) but keeps the descriptor, so a
  // thread blocked in poll() on it wakes up. Safe from any thread.
  void shutdown() noexcept;

 private:
  int fd_ = -1;
};

// Listens on `port` of every IPv4 interface (0: a free port the system picks). Throws an Error naming
// the port when it is taken.
Socket listen_tcp(int port);
int local_port(const Socket& socket);
// The numeric address of the peer of a connected socket ("10.0.0.7").
std::string peer_address(const Socket& socket);

// Accepts one connection, or returns an invalid Socket at `deadline`.
Socket accept_tcp(const Socket& listener, TcpClock::time_point deadline);
// Connects to host:port, retrying until `deadline` (the listener may not be up yet); returns an invalid
// Socket at the deadline, with the last reason in `why`.
Socket connect_tcp(const std::string& host, int port, TcpClock::time_point deadline, std::string& why);

// Non-blocking mode and no Nagle delay: the ring's small messages (five numbers a step) must leave at once.
void make_ring_socket(const Socket& socket);

enum class Transfer { Done, Closed, TimedOut };
// Sends or receives exactly `bytes`, waiting with poll() until `deadline`. Closed: the peer closed the
// connection (or reset it).
Transfer send_all(const Socket& socket, const void* data, size_t bytes, TcpClock::time_point deadline);
Transfer recv_all(const Socket& socket, void* data, size_t bytes, TcpClock::time_point deadline);

// Milliseconds from now until `deadline` for poll(): at least 0, at most a day.
int poll_timeout_ms(TcpClock::time_point deadline);
TcpClock::time_point deadline_after(double seconds);

}  // namespace aslnet
