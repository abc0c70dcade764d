// ChaCha20-Poly1305 (RFC 8439) and XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha) over OpenSSL.
#pragma once

#include "crypto/bytes.h"

namespace wgvm::crypto {

constexpr size_t kAeadKeyLen = 32;
constexpr size_t kAeadNonceLen = 12;
constexpr size_t kXAeadNonceLen = 24;
constexpr size_t kAeadTagLen = 16;

// Seals `plain` into `out` (plain.size() + 16 bytes: ciphertext then tag). `out` may alias `plain`.
void aead_seal(const uint8_t key[kAeadKeyLen], const uint8_t nonce[kAeadNonceLen], Bytes plain, Bytes ad,
               uint8_t* out);

// Opens `sealed` (ciphertext then tag) into `out` (sealed.size() - 16 bytes). `out` may alias `sealed`.
// Returns false, and leaves `out` unspecified, when the tag does not authenticate or `sealed` is too short.
[[nodiscard]] bool aead_open(const uint8_t key[kAeadKeyLen], const uint8_t nonce[kAeadNonceLen], Bytes sealed,
                             Bytes ad, uint8_t* out);

// WireGuard's transport nonce: 32 zero bits then the 64-bit counter, little-endian.
inline ByteArray<kAeadNonceLen> counter_nonce(uint64_t counter) {
  ByteArray<kAeadNonceLen> n{};
  for (int i = 0; i < 8; ++i) n[4 + i] = static_cast<uint8_t>(counter >> (8 * i));
  return n;
}

// HChaCha20 (draft-irtf-cfrg-xchacha §2.2): the subkey derivation, written here because OpenSSL lacks it.
void hchacha20(uint8_t out[32], const uint8_t key[32], const uint8_t nonce[16]);

void xaead_seal(const uint8_t key[kAeadKeyLen], const uint8_t nonce[kXAeadNonceLen], Bytes plain, Bytes ad,
                uint8_t* out);
[[nodiscard]] bool xaead_open(const uint8_t key[kAeadKeyLen], const uint8_t nonce[kXAeadNonceLen], Bytes sealed,
                              Bytes ad, uint8_t* out);

}  // namespace wgvm::crypto
