#include "io/udp.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace wgvm::io {
namespace {

using protocol::Endpoint;

int open_socket(int family, uint16_t port, uint32_t fwmark, std::string* error) {
  const int fd = ::socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *error = std::string("socket: ") + std::strerror(errno);
    return -1;
  }
  const int one = 1;
  if (family == AF_INET6) ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  // Large buffers absorb bursts between two turns of the event loop.
  const int buffer = 4 << 20;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buffer, sizeof buffer);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &buffer, sizeof buffer);
  if (fwmark) ::setsockopt(fd, SOL_SOCKET, SO_MARK, &fwmark, sizeof fwmark);
  // UDP GRO: a run of datagrams of one flow arrives as one message (io/udp_batch.cpp splits it).
  // Kernels without it refuse the option and deliver datagrams one by one, as before.
  ::setsockopt(fd, IPPROTO_UDP, UDP_GRO, &one, sizeof one);

  sockaddr_storage ss{};
  socklen_t len;
  if (family == AF_INET) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    len = sizeof *sin;
  } else {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(port);
    len = sizeof *sin6;
  }
  if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) < 0) {
    *error = "bind to UDP port " + std::to_string(port) + ": " + std::strerror(errno);
    ::close(fd);
    return -1;
  }
  return fd;
}

uint16_t bound_port(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  return ss.ss_family == AF_INET ? ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port)
                                 : ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
}

}  // namespace

socklen_t to_sockaddr(const Endpoint& e, sockaddr_storage* ss) {
  *ss = {};
  if (e.family == 4) {
    auto* sin = reinterpret_cast<sockaddr_in*>(ss);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(e.port);
    std::memcpy(&sin->sin_addr, e.addr.data(), 4);
    return sizeof *sin;
  }
  if (e.family == 6) {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(ss);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(e.port);
    std::memcpy(&sin6->sin6_addr, e.addr.data(), 16);
    return sizeof *sin6;
  }
  return 0;
}

Endpoint from_sockaddr(const sockaddr_storage& ss) {
  Endpoint e;
  if (ss.ss_family == AF_INET) {
    const auto* sin = reinterpret_cast<const sockaddr_in*>(&ss);
    e.family = 4;
    std::memcpy(e.addr.data(), &sin->sin_addr, 4);
    e.port = ntohs(sin->sin_port);
  } else if (ss.ss_family == AF_INET6) {
    const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&ss);
    e.family = 6;
    std::memcpy(e.addr.data(), &sin6->sin6_addr, 16);
    e.port = ntohs(sin6->sin6_port);
  }
  return e;
}

bool UdpSockets::bind(uint16_t port, uint32_t fwmark, std::string* error) {
  // With port 0 the kernel's choice for IPv4 may be taken for IPv6: try a few times.
  for (int attempt = 0; attempt < 8; ++attempt) {
    const int fd4 = open_socket(AF_INET, port, fwmark, error);
    if (fd4 < 0) return false;
    const uint16_t chosen = bound_port(fd4);
    std::string v6_error;
    const int fd6 = open_socket(AF_INET6, chosen, fwmark, &v6_error);
    if (fd6 < 0 && port == 0 && v6_error.find("in use") != std::string::npos) {
      ::close(fd4);
      continue;
    }
    if (fd6 < 0 && v6_error.find("in use") != std::string::npos) {
      ::close(fd4);
      *error = v6_error;
      return false;
    }
    close();
    fd4_ = fd4;
    fd6_ = fd6;  // -1 on a host without IPv6: the device runs on IPv4 alone
    port_ = chosen;
    return true;
  }
  *error = "no free UDP port for both IPv4 and IPv6";
  return false;
}

bool UdpSockets::set_fwmark(uint32_t mark, std::string* error) {
  for (int fd : {fd4_, fd6_}) {
    if (fd >= 0 && ::setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof mark) < 0) {
      *error = std::string("setting fwmark: ") + std::strerror(errno);
      return false;
    }
  }
  return true;
}

void UdpSockets::close() {
  if (fd4_ >= 0) ::close(fd4_);
  if (fd6_ >= 0) ::close(fd6_);
  fd4_ = fd6_ = -1;
  port_ = 0;
}

bool UdpSockets::send(const Endpoint& to, Bytes d) {
  sockaddr_storage ss;
  const socklen_t len = to_sockaddr(to, &ss);
  const int fd = fd_for(to);
  if (len == 0 || fd < 0) return false;
  for (;;) {
    if (::sendto(fd, d.data(), d.size(), 0, reinterpret_cast<sockaddr*>(&ss), len) >= 0) return true;
    if (errno != EINTR) return false;
  }
}

long UdpSockets::receive(int fd, uint8_t* buf, size_t capacity, Endpoint* from) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  for (;;) {
    const ssize_t n = ::recvfrom(fd, buf, capacity, 0, reinterpret_cast<sockaddr*>(&ss), &len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -1;
    *from = from_sockaddr(ss);
    return n;
  }
}

}  // namespace wgvm::io
