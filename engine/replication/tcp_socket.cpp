#include "engine/replication/tcp_socket.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>

#include "engine/core/error.h"

namespace aslnet {

Socket& Socket::operator=(Socket&& other) noexcept {
  if (this != &other) {
    close();
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

void Socket::close() noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void Socket::shutdown() noexcept {
  if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
}

int poll_timeout_ms(TcpClock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - TcpClock::now()).count();
  return int(std::clamp<int64_t>(left, 0, 24 * 3600 * 1000));
}

TcpClock::time_point deadline_after(double seconds) {
  return TcpClock::now() + std::chrono::duration_cast<TcpClock::duration>(std::chrono::duration<double>(seconds));
}

Socket listen_tcp(int port) {
  Socket s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  ASLNET_CHECK(s.valid()) << "cannot make a TCP socket: " << std::strerror(errno);
  // A port left in TIME_WAIT by the previous run may be listened on again at once.
  const int on = 1;
  ::setsockopt(s.fd(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_ANY);
  address.sin_port = htons(uint16_t(port));
  ASLNET_CHECK(::bind(s.fd(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0)
      << "cannot listen on TCP port " << port << ": " << std::strerror(errno)
      << (port != 0 ? " (another run on this machine? set MASTER_PORT to a free port)" : "");
  ASLNET_CHECK(::listen(s.fd(), 128) == 0) << "cannot listen on TCP port " << port << ": " << std::strerror(errno);
  return s;
}

int local_port(const Socket& socket) {
  sockaddr_in address{};
  socklen_t length = sizeof(address);
  ASLNET_CHECK(::getsockname(socket.fd(), reinterpret_cast<sockaddr*>(&address), &length) == 0)
      << "getsockname: " << std::strerror(errno);
  return ntohs(address.sin_port);
}

std::string peer_address(const Socket& socket) {
  sockaddr_in address{};
  socklen_t length = sizeof(address);
  ASLNET_CHECK(::getpeername(socket.fd(), reinterpret_cast<sockaddr*>(&address), &length) == 0)
      << "getpeername: " << std::strerror(errno);
  char text[INET_ADDRSTRLEN] = {};
  ::inet_ntop(AF_INET, &address.sin_addr, text, sizeof(text));
  return text;
}

Socket accept_tcp(const Socket& listener, TcpClock::time_point deadline) {
  for (;;) {
    pollfd p{listener.fd(), POLLIN, 0};
    const int ready = ::poll(&p, 1, poll_timeout_ms(deadline));
    if (ready < 0 && errno == EINTR) continue;
    ASLNET_CHECK(ready >= 0) << "poll: " << std::strerror(errno);
    if (ready == 0) return Socket();
    Socket s(::accept4(listener.fd(), nullptr, nullptr, SOCK_CLOEXEC));
    if (s.valid()) return s;
    ASLNET_CHECK(errno == EINTR || errno == ECONNABORTED || errno == EAGAIN) << "accept: " << std::strerror(errno);
  }
}

Socket connect_tcp(const std::string& host, int port, TcpClock::time_point deadline, std::string& why) {
  for (auto pause = std::chrono::milliseconds(10);; pause = std::min(pause * 2, std::chrono::milliseconds(500))) {
    addrinfo hints{};
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    const int status = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found);
    if (status != 0) {
      why = "cannot resolve " + host + ": " + ::gai_strerror(status);
    } else {
      for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
        Socket s(::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol));
        if (s.valid() && ::connect(s.fd(), a->ai_addr, a->ai_addrlen) == 0) {
          ::freeaddrinfo(found);
          return s;
        }
        why = std::strerror(errno);
      }
      ::freeaddrinfo(found);
    }
    // Rank 0 may not listen yet (ranks start in any order): try again until the deadline.
    if (TcpClock::now() + pause > deadline) return Socket();
    std::this_thread::sleep_for(pause);
  }
}

void make_ring_socket(const Socket& socket) {
  const int on = 1;
  ::setsockopt(socket.fd(), IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
  const int flags = ::fcntl(socket.fd(), F_GETFL, 0);
  ASLNET_CHECK(flags >= 0 && ::fcntl(socket.fd(), F_SETFL, flags | O_NONBLOCK) == 0)
      << "cannot make a socket non-blocking: " << std::strerror(errno);
}

namespace {

// One loop for both directions: wait until the socket is ready, then move what it takes.
Transfer transfer(const Socket& socket, char* data, size_t bytes, bool sending, TcpClock::time_point deadline) {
  size_t done = 0;
  while (done < bytes) {
    pollfd p{socket.fd(), short(sending ? POLLOUT : POLLIN), 0};
    const int ready = ::poll(&p, 1, poll_timeout_ms(deadline));
    if (ready < 0 && errno == EINTR) continue;
    ASLNET_CHECK(ready >= 0) << "poll: " << std::strerror(errno);
    if (ready == 0) return Transfer::TimedOut;
    const ssize_t n = sending ? ::send(socket.fd(), data + done, bytes - done, MSG_NOSIGNAL | MSG_DONTWAIT)
                              : ::recv(socket.fd(), data + done, bytes - done, MSG_DONTWAIT);
    if (n > 0) {
      done += size_t(n);
    } else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
      return Transfer::Closed;  // end of file, EPIPE, ECONNRESET: the peer is gone
    }
  }
  return Transfer::Done;
}

}  // namespace

Transfer send_all(const Socket& socket, const void* data, size_t bytes, TcpClock::time_point deadline) {
  return transfer(socket, static_cast<char*>(const_cast<void*>(data)), bytes, true, deadline);
}

Transfer recv_all(const Socket& socket, void* data, size_t bytes, TcpClock::time_point deadline) {
  return transfer(socket, static_cast<char*>(data), bytes, false, deadline);
}

}  // namespace aslnet
