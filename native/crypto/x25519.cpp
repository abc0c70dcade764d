#include "crypto/x25519.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

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

// libcrypto computes the public key of every raw private key it loads, with fixed-base code that
// costs more than its Montgomery ladder (about 80 against 50 µs here). So keys are loaded together
// with their public key, computed by the ladder on the base point, or with a placeholder where only
// the private half is used: a derivation never reads its own public key.
const uint8_t kBasePoint[kKeyLen] = {9};

Pkey load_private(const uint8_t private_key[kKeyLen], const uint8_t public_key[kKeyLen]) {
  thread_local const PkeyCtx importer = [] {
    PkeyCtx ctx(EVP_PKEY_CTX_new_from_name(nullptr, "X25519", nullptr));
    if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1) throw std::runtime_error("X25519 unavailable in libcrypto");
    return ctx;
  }();
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PRIV_KEY, const_cast<uint8_t*>(private_key), kKeyLen),
      OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, const_cast<uint8_t*>(public_key), kKeyLen),
      OSSL_PARAM_construct_end()};
  EVP_PKEY* k = nullptr;
  if (EVP_PKEY_fromdata(importer.get(), &k, EVP_PKEY_KEYPAIR, params) != 1) throw std::runtime_error("X25519 unavailable in libcrypto");
  return Pkey(k);
}

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

void clamp_private_key(uint8_t key[kKeyLen]) {
  key[0] &= 248;
  key[31] &= 127;
  key[31] |= 64;
}

Key x25519_public_key(const uint8_t private_key[kKeyLen]) {
  Key pub;
  // Never all zeros: the base point has prime order and a clamped scalar is not a multiple of it.
  if (!derive(load_private(private_key, kBasePoint).get(), pub.data(), kBasePoint))
    throw std::runtime_error("X25519 public key derivation failed in libcrypto");
  return pub;
}

bool x25519(uint8_t out[kKeyLen], const uint8_t private_key[kKeyLen], const uint8_t public_key[kKeyLen]) {
  return derive(load_private(private_key, kBasePoint).get(), out, public_key);
}

X25519PrivateKey::X25519PrivateKey(const uint8_t private_key[kKeyLen]) : public_(x25519_public_key(private_key)) {
  pkey_ = std::shared_ptr<EVP_PKEY>(load_private(private_key, public_.data()).release(), EVP_PKEY_free);
}

bool X25519PrivateKey::dh(uint8_t out[kKeyLen], const uint8_t peer_public[kKeyLen]) const {
  if (!pkey_) {
    secure_zero(out, kKeyLen);
    return false;
  }
  return derive(pkey_.get(), out, peer_public);
}

}  // namespace wgvm::crypto
