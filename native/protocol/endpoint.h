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

  bool valid() const { return family == 4 || family == 6; }
  size_t addr_len() const { return family == 4 ? 4 : family == 6 ? 16 : 0; }
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

}  // namespace wgvm::protocol
