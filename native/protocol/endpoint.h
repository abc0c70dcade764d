// A peer's UDP endpoint as a plain value: the core compares, stores and hashes endpoints, while only
// the I/O layer turns them into socket addresses.
#pragma once

#include <array>
#include <cstdint>
#include <string>

namespace wgvm::protocol {

struct Endpoint {
  uint8_t family = 0;                 // 0 = none, 4 = IPv4, 6 = IPv6
  std::array<uint8_t, 16> addr{};     // IPv4 in the first four bytes
  uint16_t port = 0;                  // host byte order
  // Our own address the peer's datagram arrived at, and the interface it came in on ("sticky
  // source"): what we send to the peer leaves from it, so a NAT in front of the peer sees replies
  // from the address it wrote to. All zero: the kernel chooses (a configured endpoint, or after the
  // address went away). Part of equality, as in the kernel: a peer that moves to another of our
  // addresses has roamed.
  std::array<uint8_t, 16> source{};
  uint32_t source_ifindex = 0;

  bool valid() const { return family == 4 || family == 6; }
  size_t addr_len() const { return family == 4 ? 4 : family == 6 ? 16 : 0; }
  bool has_source() const { return source != std::array<uint8_t, 16>{}; }
  void clear_source() { source = {}, source_ifindex = 0; }
  // The same peer address and port, whatever our side of it.
  bool same_remote(const Endpoint& o) const { return family == o.family && addr == o.addr && port == o.port; }
  bool operator==(const Endpoint&) const = default;

  static Endpoint v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint16_t port) {
    Endpoint e;
    e.family = 4;
    e.addr[0] = a, e.addr[1] = b, e.addr[2] = c, e.addr[3] = d;
    e.port = port;
    return e;
  }
};

// "192.0.2.1:51820" or "[2001:db8::1]:51820", as `wg` prints endpoints; "(none)" when unset.
std::string to_string(const Endpoint&);
// The source address alone ("203.0.113.1", "2001:db8::1"); empty when the kernel chooses.
std::string source_to_string(const Endpoint&);

}  // namespace wgvm::protocol
