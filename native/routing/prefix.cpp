#include "routing/prefix.h"

#include <arpa/inet.h>

#include <cstring>

namespace wgvm::routing {

bool is_valid(const Prefix& prefix) {
  const uint8_t bits = address_bits(prefix.family);
  if (bits == 0 || prefix.cidr > bits) return false;
  for (size_t i = bits / 8; i < prefix.addr.size(); ++i) {
    if (prefix.addr[i] != 0) return false;
  }
  return true;
}

Prefix masked(const Prefix& prefix) {
  Prefix out = prefix;
  const size_t whole_bytes = prefix.cidr / 8;
  const unsigned spare_bits = prefix.cidr % 8;
  size_t i = whole_bytes;
  if (spare_bits != 0 && i < out.addr.size()) {
    out.addr[i] &= static_cast<uint8_t>(0xff << (8 - spare_bits));
    ++i;
  }
  for (; i < out.addr.size(); ++i) out.addr[i] = 0;
  return out;
}

std::optional<Prefix> parse_prefix(std::string_view text) {
  const size_t slash = text.find('/');
  const std::string_view address = text.substr(0, slash);

  // inet_pton wants a NUL-terminated string; an embedded NUL would hide trailing junk from it.
  char address_z[INET6_ADDRSTRLEN];
  if (address.empty() || address.size() >= sizeof address_z ||
      address.find('\0') != std::string_view::npos) {
    return std::nullopt;
  }
  std::memcpy(address_z, address.data(), address.size());
  address_z[address.size()] = '\0';

  Prefix prefix;
  prefix.family = address.find(':') != std::string_view::npos ? kFamilyV6 : kFamilyV4;
  const int af = prefix.family == kFamilyV6 ? AF_INET6 : AF_INET;
  if (inet_pton(af, address_z, prefix.addr.data()) != 1) return std::nullopt;

  const unsigned bits = address_bits(prefix.family);
  if (slash == std::string_view::npos) {
    prefix.cidr = static_cast<uint8_t>(bits);
    return prefix;
  }
  // Digits only (no sign, no spaces), like wg's own check before strtoul; leading zeros are fine.
  const std::string_view cidr_text = text.substr(slash + 1);
  if (cidr_text.empty()) return std::nullopt;
  unsigned cidr = 0;
  for (const char c : cidr_text) {
    if (c < '0' || c > '9') return std::nullopt;
    cidr = cidr * 10 + static_cast<unsigned>(c - '0');
    if (cidr > bits) return std::nullopt;  // also stops overflow on long digit strings
  }
  prefix.cidr = static_cast<uint8_t>(cidr);
  return prefix;
}

std::string to_string(const Prefix& prefix) {
  const uint8_t bits = address_bits(prefix.family);
  if (bits == 0) return {};
  char text[INET6_ADDRSTRLEN];
  const int af = prefix.family == kFamilyV6 ? AF_INET6 : AF_INET;
  if (inet_ntop(af, prefix.addr.data(), text, sizeof text) == nullptr) return {};
  std::string out(text);
  out += '/';
  out += std::to_string(prefix.cidr);
  return out;
}

}  // namespace wgvm::routing
