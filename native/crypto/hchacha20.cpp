// HChaCha20, draft-irtf-cfrg-xchacha-03 §2.2: the ChaCha20 block function without the final
// feed-forward addition, keeping state words 0..3 and 12..15. OpenSSL has no HChaCha20, so this
// one primitive is written here; everything else is libcrypto.
#include "crypto/aead.h"

namespace wgvm::crypto {
namespace {

inline uint32_t load_le32(const uint8_t* p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}

inline void store_le32(uint8_t* p, uint32_t v) {
  p[0] = uint8_t(v);
  p[1] = uint8_t(v >> 8);
  p[2] = uint8_t(v >> 16);
  p[3] = uint8_t(v >> 24);
}

inline uint32_t rotl(uint32_t v, int n) { return (v << n) | (v >> (32 - n)); }

inline void quarter_round(uint32_t& a, uint32_t& b, uint32_t& c, uint32_t& d) {
  a += b; d ^= a; d = rotl(d, 16);
  c += d; b ^= c; b = rotl(b, 12);
  a += b; d ^= a; d = rotl(d, 8);
  c += d; b ^= c; b = rotl(b, 7);
}

}  // namespace

void hchacha20(uint8_t out[32], const uint8_t key[32], const uint8_t nonce[16]) {
  uint32_t x[16] = {0x61707865, 0x3320646e, 0x79622d32, 0x6b206574};  // "expand 32-byte k"
  for (int i = 0; i < 8; ++i) x[4 + i] = load_le32(key + 4 * i);
  for (int i = 0; i < 4; ++i) x[12 + i] = load_le32(nonce + 4 * i);

  for (int round = 0; round < 10; ++round) {  // 10 double rounds = ChaCha20
    quarter_round(x[0], x[4], x[8], x[12]);
    quarter_round(x[1], x[5], x[9], x[13]);
    quarter_round(x[2], x[6], x[10], x[14]);
    quarter_round(x[3], x[7], x[11], x[15]);
    quarter_round(x[0], x[5], x[10], x[15]);
    quarter_round(x[1], x[6], x[11], x[12]);
    quarter_round(x[2], x[7], x[8], x[13]);
    quarter_round(x[3], x[4], x[9], x[14]);
  }

  for (int i = 0; i < 4; ++i) store_le32(out + 4 * i, x[i]);
  for (int i = 0; i < 4; ++i) store_le32(out + 16 + 4 * i, x[12 + i]);
  secure_zero(x, sizeof x);
}

}  // namespace wgvm::crypto
