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
  // Every datagram's local address, for sticky sources (see udp.h).
  if (family == AF_INET) ::setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof one);
  else ::setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof one);
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

void read_source(msghdr& h, Endpoint* from) {
  for (cmsghdr* c = CMSG_FIRSTHDR(&h); c; c = CMSG_NXTHDR(&h, c)) {
    if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO && c->cmsg_len >= CMSG_LEN(sizeof(in_pktinfo))) {
      in_pktinfo info;
      std::memcpy(&info, CMSG_DATA(c), sizeof info);
      // ipi_spec_dst: the local address (for a datagram sent to a broadcast address, ours, not it).
      std::memcpy(from->source.data(), &info.ipi_spec_dst, 4);
      from->source_ifindex = uint32_t(info.ipi_ifindex);
    } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO && c->cmsg_len >= CMSG_LEN(sizeof(in6_pktinfo))) {
      in6_pktinfo info;
      std::memcpy(&info, CMSG_DATA(c), sizeof info);
      std::memcpy(from->source.data(), &info.ipi6_addr, 16);
      from->source_ifindex = info.ipi6_ifindex;
    }
  }
}

size_t write_control(const Endpoint& to, uint16_t segment, uint8_t* control, size_t* without_source) {
  std::memset(control, 0, kControlSpace);
  size_t len = 0;
  if (segment != 0) {
    auto* c = reinterpret_cast<cmsghdr*>(control);
    c->cmsg_level = IPPROTO_UDP;
    c->cmsg_type = UDP_SEGMENT;
    c->cmsg_len = CMSG_LEN(sizeof segment);
    std::memcpy(CMSG_DATA(c), &segment, sizeof segment);
    len = CMSG_SPACE(sizeof segment);
  }
  *without_source = len;
  if (!to.has_source()) return len;
  auto* c = reinterpret_cast<cmsghdr*>(control + len);
  if (to.family == 4) {
    in_pktinfo info{};
    std::memcpy(&info.ipi_spec_dst, to.source.data(), 4);  // ifindex 0: the route picks the interface
    c->cmsg_level = IPPROTO_IP;
    c->cmsg_type = IP_PKTINFO;
    c->cmsg_len = CMSG_LEN(sizeof info);
    std::memcpy(CMSG_DATA(c), &info, sizeof info);
    return len + CMSG_SPACE(sizeof info);
  }
  in6_pktinfo info{};
  std::memcpy(&info.ipi6_addr, to.source.data(), 16);
  // A link-local source means nothing without its interface; any other is found by the route.
  if (IN6_IS_ADDR_LINKLOCAL(&info.ipi6_addr)) info.ipi6_ifindex = to.source_ifindex;
  c->cmsg_level = IPPROTO_IPV6;
  c->cmsg_type = IPV6_PKTINFO;
  c->cmsg_len = CMSG_LEN(sizeof info);
  std::memcpy(CMSG_DATA(c), &info, sizeof info);
  return len + CMSG_SPACE(sizeof info);
}

}  // namespace wgvm::io
