// An IP prefix (address and CIDR length) as WireGuard's allowed IPs use it, with text parsing and
// printing that agree with `wg`.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace wgvm::routing {

inline constexpr uint8_t kFamilyV4 = 4;
inline constexpr uint8_t kFamilyV6 = 6;

struct Prefix {
  uint8_t family = 0;             // kFamilyV4 or kFamilyV6
  std::array<uint8_t, 16> addr{};  // network byte order; IPv4 uses the first 4 bytes, the rest stay 0
  uint8_t cidr = 0;

  friend bool operator==(const Prefix&, const Prefix&) = default;
};

// Address width in bits: 32 for IPv4, 128 for IPv6, 0 for an unknown family.
constexpr uint8_t address_bits(uint8_t family) {
  return family == kFamilyV4 ? 32 : family == kFamilyV6 ? 128 : 0;
}

// True when the family is known, the cidr fits it and the bytes past an IPv4 address are zero
// (so that operator== means "same prefix").
bool is_valid(const Prefix& prefix);

// The prefix with its host bits (those past cidr) cleared: 10.0.0.5/24 becomes 10.0.0.0/24.
Prefix masked(const Prefix& prefix);

// Parses "10.0.0.0/24", "fd00::/64", or a bare address (a /32 or /128). Host bits are kept; the
// table clears them on insert, as the kernel does. Returns nullopt for anything malformed.
std::optional<Prefix> parse_prefix(std::string_view text);

// "10.0.0.0/24", "fd00::/64": the form `wg show` prints. Empty for an unknown family.
std::string to_string(const Prefix& prefix);

}  // namespace wgvm::routing
