// An address as a 128-bit number for the allowed-IPs trie. Bit 0 is the most significant bit of the
// first address byte, so "the first n bits of the prefix" are the first n bits of the key and two
// addresses share a prefix exactly as far as their keys' leading bits agree. IPv4 addresses fill
// bits 0..31; the rest are zero.
#pragma once

#include <bit>
#include <cstdint>

namespace wgvm::routing {

namespace detail {

inline uint32_t load_be32(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | uint32_t{p[3]};
}

inline uint64_t load_be64(const uint8_t* p) {
  return uint64_t{load_be32(p)} << 32 | load_be32(p + 4);
}

inline void store_be64(uint64_t v, uint8_t* p, unsigned n_bytes) {
  for (unsigned i = 0; i < n_bytes; ++i) p[i] = static_cast<uint8_t>(v >> (56 - 8 * i));
}

}  // namespace detail

struct AddressKey {
  uint64_t high = 0;  // bits 0..63
  uint64_t low = 0;   // bits 64..127

  static AddressKey from_v4(const uint8_t* addr) {
    return {uint64_t{detail::load_be32(addr)} << 32, 0};
  }
  static AddressKey from_v6(const uint8_t* addr) {
    return {detail::load_be64(addr), detail::load_be64(addr + 8)};
  }

  // Writes the 4 (IPv4) or 16 (IPv6) address bytes back out.
  void store(bool is_v6, uint8_t* addr) const {
    detail::store_be64(high, addr, is_v6 ? 8 : 4);
    if (is_v6) detail::store_be64(low, addr + 8, 8);
  }

  // Bit i, counted from the most significant; i must be below 128.
  unsigned bit(unsigned i) const {
    return static_cast<unsigned>(i < 64 ? (high >> (63 - i)) & 1 : (low >> (127 - i)) & 1);
  }

  // How many leading bits the two keys share: 128 when they are equal.
  unsigned common_bits(const AddressKey& other) const {
    const uint64_t high_diff = high ^ other.high;
    if (high_diff != 0) return static_cast<unsigned>(std::countl_zero(high_diff));
    return 64 + static_cast<unsigned>(std::countl_zero(low ^ other.low));
  }

  // The key with only its first n bits kept (n ≤ 128).
  AddressKey masked(unsigned n) const {
    if (n == 0) return {};
    if (n <= 64) return {high & (~uint64_t{0} << (64 - n)), 0};
    return {high, low & (~uint64_t{0} << (128 - n))};
  }

  friend bool operator==(const AddressKey&, const AddressKey&) = default;
};

}  // namespace wgvm::routing
