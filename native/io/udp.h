// The device's UDP sockets: one IPv4 and (where the host has IPv6) one IPv6 socket on the same port.
#pragma once

#include <netinet/udp.h>
#include <sys/socket.h>

#include <string>
#include <utility>

#include "crypto/bytes.h"
#include "protocol/endpoint.h"

// Older libc headers lack the UDP offload options (linux/udp.h).
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif

namespace wgvm::io {

// Between our Endpoint values and the kernel's socket addresses.
socklen_t to_sockaddr(const protocol::Endpoint&, sockaddr_storage* out);
protocol::Endpoint from_sockaddr(const sockaddr_storage&);

class UdpSockets {
 public:
  UdpSockets() = default;
  ~UdpSockets() { close(); }
  UdpSockets(const UdpSockets&) = delete;
  UdpSockets& operator=(const UdpSockets&) = delete;

  // Binds both families to `port` (0: the kernel picks one, and IPv6 takes the same). On failure
  // nothing changes and `error` says why.
  bool bind(uint16_t port, uint32_t fwmark, std::string* error);
  bool set_fwmark(uint32_t mark, std::string* error);
  void close();
  void swap(UdpSockets& other) noexcept {
    std::swap(fd4_, other.fd4_);
    std::swap(fd6_, other.fd6_);
    std::swap(port_, other.port_);
  }

  uint16_t port() const { return port_; }
  int fd4() const { return fd4_; }
  int fd6() const { return fd6_; }
  int fd_for(const protocol::Endpoint& e) const { return e.family == 4 ? fd4_ : e.family == 6 ? fd6_ : -1; }

  // Sends one datagram; false (the caller counts it) when the kernel refuses, e.g. unreachable.
  bool send(const protocol::Endpoint& to, Bytes datagram);
  // One datagram from `fd`: its length, or -1 when nothing is waiting.
  long receive(int fd, uint8_t* buf, size_t capacity, protocol::Endpoint* from);

 private:
  int fd4_ = -1;
  int fd6_ = -1;
  uint16_t port_ = 0;
};

}  // namespace wgvm::io
