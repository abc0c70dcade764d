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

namespace {

bool derive(EVP_PKEY* self, uint8_t out[kKeyLen], const uint8_t public_key[kKeyLen]) {
  Pkey peer(EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nullptr, public_key, kKeyLen));
  PkeyCtx ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, self, nullptr));
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

}  // namespace

bool x25519(uint8_t out[kKeyLen], const uint8_t private_key[kKeyLen], const uint8_t public_key[kKeyLen]) {
  return derive(private_pkey(private_key).get(), out, public_key);
}

X25519PrivateKey::X25519PrivateKey(const uint8_t private_key[kKeyLen]) {
  Pkey k = private_pkey(private_key);
  size_t len = public_.size();
  if (EVP_PKEY_get_raw_public_key(k.get(), public_.data(), &len) != 1 || len != kKeyLen)
    throw std::runtime_error("X25519 public key derivation failed in libcrypto");
  pkey_ = std::shared_ptr<EVP_PKEY>(k.release(), EVP_PKEY_free);
}

bool X25519PrivateKey::dh(uint8_t out[kKeyLen], const uint8_t peer_public[kKeyLen]) const {
  if (!pkey_) {
    secure_zero(out, kKeyLen);
    return false;
  }
  return derive(pkey_.get(), out, peer_public);
}

}  // namespace wgvm::crypto
