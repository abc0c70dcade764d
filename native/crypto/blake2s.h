// BLAKE2s (RFC 7693) and the constructions WireGuard builds on it, over OpenSSL:
// HASH, MAC (keyed BLAKE2s, 16-byte output), HMAC-BLAKE2s and the HKDF-style KDF1..KDF3.
#pragma once

#include <initializer_list>

#include "crypto/bytes.h"

namespace wgvm::crypto {

constexpr size_t kHashLen = 32;
constexpr size_t kMacLen = 16;

using Hash = ByteArray<kHashLen>;
using Mac = ByteArray<kMacLen>;

// BLAKE2s-256 of the concatenation of `parts`.
Hash blake2s(std::initializer_list<Bytes> parts);

// Keyed BLAKE2s with `out_len` bytes of output (1..32) and a key of 1..32 bytes.
void blake2s_keyed(uint8_t* out, size_t out_len, Bytes key, std::initializer_list<Bytes> parts);

// WireGuard's MAC(key, input): keyed BLAKE2s with a 16-byte digest.
inline Mac mac(Bytes key, std::initializer_list<Bytes> parts) {
  Mac m;
  blake2s_keyed(m.data(), m.size(), key, parts);
  return m;
}

// HMAC (RFC 2104) with BLAKE2s-256 as the hash.
Hash hmac_blake2s(Bytes key, std::initializer_list<Bytes> parts);

// WireGuard's KDF_n(key, input), n = 1..3: τ0 = HMAC(key, input); τi = HMAC(τ0, τ(i-1) ‖ i).
// Writes τ1..τn to outs[0..n-1]; unused outputs may be null.
void kdf(Bytes key, Bytes input, uint8_t* out1, uint8_t* out2 = nullptr, uint8_t* out3 = nullptr);

}  // namespace wgvm::crypto
