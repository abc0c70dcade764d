// X25519 (RFC 7748) over OpenSSL, with WireGuard's clamping and all-zero rejection.
#pragma once

#include <memory>

#include "crypto/bytes.h"

namespace wgvm::crypto {

constexpr size_t kKeyLen = 32;
using Key = ByteArray<kKeyLen>;

// RFC 7748 §5 "decodeScalar25519" bit clamping, applied in place.
void clamp_private_key(uint8_t key[kKeyLen]);

// The public key of `private_key` (clamped internally, as X25519 specifies).
Key x25519_public_key(const uint8_t private_key[kKeyLen]);

// Diffie-Hellman: writes the shared secret and returns true, or returns false (and zeroes `out`) when
// the result is all zeros — a small-order public key — which WireGuard must refuse.
[[nodiscard]] bool x25519(uint8_t out[kKeyLen], const uint8_t private_key[kKeyLen], const uint8_t public_key[kKeyLen]);

// A private key held in libcrypto's own form, loaded once, so that each Diffie-Hellman is one
// scalar multiplication and little more.
// Copies share the key; the last one frees (and erases) it.
class X25519PrivateKey {
 public:
  X25519PrivateKey() = default;
  explicit X25519PrivateKey(const uint8_t private_key[kKeyLen]);

  bool valid() const { return key_ != nullptr; }
  const Key& public_key() const { return public_; }
  // As x25519(): false (and `out` zeroed) for an all-zero result.
  [[nodiscard]] bool dh(uint8_t out[kKeyLen], const uint8_t peer_public[kKeyLen]) const;
  void reset() { key_.reset(); public_ = {}; }

 private:
  std::shared_ptr<void> key_;  // the provider's key object
  Key public_{};
};

}  // namespace wgvm::crypto
