#include "crypto/x25519.h"

#include <openssl/evp.h>

#include <memory>
#include <stdexcept>

namespace wgvm::crypto {
namespace {

struct PkeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct PkeyCtxDeleter {
  void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyDeleter>;
using PkeyCtx = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxDeleter>;

Pkey private_pkey(const uint8_t key[kKeyLen]) {
  Pkey k(EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, key, kKeyLen));
  if (!k) throw std::runtime_error("X25519 unavailable in libcrypto");
  return k;
}

}  // namespace

void clamp_private_key(uint8_t key[kKeyLen]) {
  key[0] &= 248;
  key[31] &= 127;
  key[31] |= 64;
}

Key x25519_public_key(const uint8_t private_key[kKeyLen]) {
  Pkey k = private_pkey(private_key);
  Key pub;
  size_t len = pub.size();
  if (EVP_PKEY_get_raw_public_key(k.get(), pub.data(), &len) != 1 || len != kKeyLen)
    throw std::runtime_error("X25519 public key derivation failed in libcrypto");
  return pub;
}

bool x25519(uint8_t out[kKeyLen], const uint8_t private_key[kKeyLen], const uint8_t public_key[kKeyLen]) {
  Pkey self = private_pkey(private_key);
  Pkey peer(EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nullptr, public_key, kKeyLen));
  PkeyCtx ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, self.get(), nullptr));
  size_t len = kKeyLen;
  // libcrypto itself fails the derivation on an all-zero result; the explicit check below makes
  // the refusal independent of that detail.
  const bool derived = peer && ctx && EVP_PKEY_derive_init(ctx.get()) == 1 &&
                       EVP_PKEY_derive_set_peer_ex(ctx.get(), peer.get(), 0) == 1 &&
                       EVP_PKEY_derive(ctx.get(), out, &len) == 1 && len == kKeyLen;
  static const uint8_t zero[kKeyLen] = {};
  if (!derived || equal_ct(Bytes(out, kKeyLen), Bytes(zero, kKeyLen))) {
    secure_zero(out, kKeyLen);
    return false;
  }
  return true;
}

}  // namespace wgvm::crypto
