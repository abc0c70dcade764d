#include "crypto/x25519.h"

#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/params.h>

#include <cstdlib>
#include <memory>
#include <stdexcept>

#include "crypto/provider.h"

namespace wgvm::crypto {
namespace {

// X25519 called through the default provider's key management and key exchange functions
// (crypto/provider.h). Through EVP, each Diffie-Hellman fetched the algorithm by name and loaded
// the peer's key by walking libcrypto's whole name table: a sixth of a responder's time per
// handshake (4,170 → 4,970 handshakes/s without it). The arithmetic and its checks are OpenSSL's.
struct Functions {
  void* provider_ctx = provider::context();
  OSSL_FUNC_keymgmt_new_fn* new_key = nullptr;
  OSSL_FUNC_keymgmt_free_fn* free_key = nullptr;
  OSSL_FUNC_keymgmt_import_fn* import_key = nullptr;
  OSSL_FUNC_keyexch_newctx_fn* newctx = nullptr;
  OSSL_FUNC_keyexch_freectx_fn* freectx = nullptr;
  OSSL_FUNC_keyexch_init_fn* init = nullptr;
  OSSL_FUNC_keyexch_set_peer_fn* set_peer = nullptr;
  OSSL_FUNC_keyexch_derive_fn* derive = nullptr;

  Functions() {
    provider::load_functions(OSSL_OP_KEYMGMT, "X25519",
                             {{OSSL_FUNC_KEYMGMT_NEW, &new_key},
                              {OSSL_FUNC_KEYMGMT_FREE, &free_key},
                              {OSSL_FUNC_KEYMGMT_IMPORT, &import_key}});
    provider::load_functions(OSSL_OP_KEYEXCH, "X25519",
                             {{OSSL_FUNC_KEYEXCH_NEWCTX, &newctx},
                              {OSSL_FUNC_KEYEXCH_FREECTX, &freectx},
                              {OSSL_FUNC_KEYEXCH_INIT, &init},
                              {OSSL_FUNC_KEYEXCH_SET_PEER, &set_peer},
                              {OSSL_FUNC_KEYEXCH_DERIVE, &derive}});
  }
};

const Functions& fn() {
  static const Functions x;
  return x;
}

struct KeyFree {
  void operator()(void* key) const { fn().free_key(key); }  // erases a private key's bytes
};
using ProviderKey = std::unique_ptr<void, KeyFree>;

// Loads a public key, or a key pair when `private_key` is given. libcrypto would compute the public
// key of a private key loaded alone with its fixed-base code, which costs more than its Montgomery
// ladder (about 80 against 50 µs on an Intel Xeon); so a private key is loaded with its public key,
// or with a placeholder where only the private half is used: a derivation never reads its own
// public key.
ProviderKey load_key(const uint8_t* private_key, const uint8_t public_key[kKeyLen]) {
  ProviderKey key(fn().new_key(fn().provider_ctx));
  if (!key) throw std::bad_alloc();
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, const_cast<uint8_t*>(public_key), kKeyLen),
      OSSL_PARAM_construct_end(), OSSL_PARAM_construct_end()};
  if (private_key)
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PRIV_KEY, const_cast<uint8_t*>(private_key), kKeyLen);
  const int selection = private_key ? OSSL_KEYMGMT_SELECT_KEYPAIR : OSSL_KEYMGMT_SELECT_PUBLIC_KEY;
  if (fn().import_key(key.get(), selection, params) != 1) throw std::runtime_error("X25519 key import failed in libcrypto");
  return key;
}

const uint8_t kBasePoint[kKeyLen] = {9};

bool derive(void* self, uint8_t out[kKeyLen], const uint8_t public_key[kKeyLen]) {
  const ProviderKey peer = load_key(nullptr, public_key);
  // A context per derivation (a small allocation): one kept per thread would hold the last keys.
  std::unique_ptr<void, void (*)(void*)> ctx(fn().newctx(fn().provider_ctx), [](void* c) { fn().freectx(c); });
  size_t len = 0;
  // libcrypto itself fails the derivation on an all-zero result; the explicit check below makes
  // the refusal independent of that detail. A refused peer key is an answer, not an error to leave
  // in the thread's queue: what libcrypto queued is dropped, and only that.
  ERR_set_mark();
  const bool derived = ctx && fn().init(ctx.get(), self, nullptr) == 1 && fn().set_peer(ctx.get(), peer.get()) == 1 &&
                       fn().derive(ctx.get(), out, &len, kKeyLen) == 1 && len == kKeyLen;
  ERR_pop_to_mark();
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

Key x25519_public_key(const uint8_t private_key[kKeyLen]) { return X25519PrivateKey(private_key).public_key(); }

bool x25519(uint8_t out[kKeyLen], const uint8_t private_key[kKeyLen], const uint8_t public_key[kKeyLen]) {
  return derive(load_key(private_key, kBasePoint).get(), out, public_key);
}

X25519PrivateKey::X25519PrivateKey(const uint8_t private_key[kKeyLen])
    : key_(load_key(private_key, kBasePoint).release(), KeyFree()) {
  // Never all zeros: the base point has prime order and a clamped scalar is not a multiple of it.
  if (!derive(key_.get(), public_.data(), kBasePoint))
    throw std::runtime_error("X25519 public key derivation failed in libcrypto");
}

bool X25519PrivateKey::dh(uint8_t out[kKeyLen], const uint8_t peer_public[kKeyLen]) const {
  if (!key_) {
    secure_zero(out, kKeyLen);
    return false;
  }
  return derive(key_.get(), out, peer_public);
}

}  // namespace wgvm::crypto
