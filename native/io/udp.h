// The device's UDP sockets: one IPv4 and (where the host has IPv6) one IPv6 socket on the same port.
#pragma once

#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>

#include <cerrno>

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

// Sticky sources: each socket reports the local address every datagram arrived at (IP_PKTINFO,
// IPV6_RECVPKTINFO), and what we send to that peer names it as its source, as the kernel module and
// wireguard-go do. Without it the kernel picks the source by route, and on a host with more than one
// address a NAT in front of the peer drops replies from an address it never wrote to.
constexpr size_t kControlSpace = CMSG_SPACE(sizeof(uint16_t)) + CMSG_SPACE(sizeof(in6_pktinfo));
// Sets `from`'s source fields from a received message's IP_PKTINFO / IPV6_PKTINFO, if it has one.
void read_source(msghdr&, protocol::Endpoint* from);
// Fills `control` (kControlSpace bytes) for a message to `to`: a UDP_SEGMENT size when `segment` is
// non-zero, then `to`'s source if it has one, in that order so that the source can be dropped by
// shortening the control data. Returns the control length, and in `without_source` the length
// without the source.
size_t write_control(const protocol::Endpoint& to, uint16_t segment, uint8_t* control, size_t* without_source);
// Whether a send refused with `err` may have been refused for its source address (gone, or not
// usable on the route): IPv4 says ENETUNREACH or EINVAL, IPv6 EINVAL or EADDRNOTAVAIL. Sent again
// without it, the datagram tells whether the source was the cause.
inline bool may_refuse_source(int err) { return err == EINVAL || err == EADDRNOTAVAIL || err == ENETUNREACH; }

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

 private:
  int fd4_ = -1;
  int fd6_ = -1;
  uint16_t port_ = 0;
};

}  // namespace wgvm::io
