#include "crypto/blake2s.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <algorithm>
#include <cstdlib>
#include <stdexcept>

namespace wgvm::crypto {
namespace {

// Algorithms are fetched once and contexts reused per thread: the handshake path hashes dozens of
// times per message, and fetching or allocating each time would cost more than the hashing.
const EVP_MD* blake2s_md() {
  static EVP_MD* md = EVP_MD_fetch(nullptr, "BLAKE2S-256", nullptr);
  if (!md) std::abort();
  return md;
}

EVP_MAC* fetch_mac(const char* name) {
  EVP_MAC* m = EVP_MAC_fetch(nullptr, name, nullptr);
  if (!m) std::abort();
  return m;
}

struct ThreadContexts {
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  EVP_MAC_CTX* keyed = nullptr;
  EVP_MAC_CTX* hmac = nullptr;

  ThreadContexts() {
    static EVP_MAC* blake2smac = fetch_mac("BLAKE2SMAC");
    static EVP_MAC* hmac_alg = fetch_mac("HMAC");
    keyed = EVP_MAC_CTX_new(blake2smac);
    hmac = EVP_MAC_CTX_new(hmac_alg);
    if (!md || !keyed || !hmac) throw std::bad_alloc();
    char digest[] = "BLAKE2S-256";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0), OSSL_PARAM_END};
    if (EVP_MAC_CTX_set_params(hmac, params) != 1) throw std::runtime_error("HMAC-BLAKE2s unavailable in libcrypto");
  }
  ~ThreadContexts() {
    EVP_MD_CTX_free(md);
    EVP_MAC_CTX_free(keyed);
    EVP_MAC_CTX_free(hmac);
  }
  ThreadContexts(const ThreadContexts&) = delete;
  ThreadContexts& operator=(const ThreadContexts&) = delete;
};

ThreadContexts& contexts() {
  thread_local ThreadContexts c;
  return c;
}

void check(int rc) {
  if (rc != 1) throw std::runtime_error("BLAKE2s failed in libcrypto");
}

void mac_update(EVP_MAC_CTX* ctx, std::initializer_list<Bytes> parts) {
  for (Bytes p : parts)
    if (!p.empty()) check(EVP_MAC_update(ctx, p.data(), p.size()));
}

}  // namespace

Hash blake2s(std::initializer_list<Bytes> parts) {
  EVP_MD_CTX* ctx = contexts().md;
  check(EVP_DigestInit_ex2(ctx, blake2s_md(), nullptr));
  for (Bytes p : parts)
    if (!p.empty()) check(EVP_DigestUpdate(ctx, p.data(), p.size()));
  Hash out;
  unsigned int len = 0;
  check(EVP_DigestFinal_ex(ctx, out.data(), &len));
  return out;
}

void blake2s_keyed(uint8_t* out, size_t out_len, Bytes key, std::initializer_list<Bytes> parts) {
  if (out_len < 1 || out_len > 32 || key.empty() || key.size() > 32)
    throw std::invalid_argument("keyed BLAKE2s takes a 1..32-byte key and output");
  EVP_MAC_CTX* ctx = contexts().keyed;
  size_t size = out_len;
  OSSL_PARAM params[] = {OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &size), OSSL_PARAM_END};
  check(EVP_MAC_init(ctx, key.data(), key.size(), params));
  mac_update(ctx, parts);
  size_t written = 0;
  check(EVP_MAC_final(ctx, out, &written, out_len));
}

namespace {

// HMAC-BLAKE2s keyed with `key`, or, for a null `key`, with the key of this thread's previous call:
// OpenSSL then reuses the padded-key states it derived, two BLAKE2s compressions fewer.
Hash hmac_with(const uint8_t* key, size_t key_len, std::initializer_list<Bytes> parts) {
  EVP_MAC_CTX* ctx = contexts().hmac;
  check(EVP_MAC_init(ctx, key, key_len, nullptr));
  mac_update(ctx, parts);
  Hash out;
  size_t written = 0;
  check(EVP_MAC_final(ctx, out.data(), &written, out.size()));
  return out;
}

}  // namespace

Hash hmac_blake2s(Bytes key, std::initializer_list<Bytes> parts) {
  // An empty key must still be a real pointer, or it would mean "the previous key".
  static const uint8_t empty_key = 0;
  return hmac_with(key.empty() ? &empty_key : key.data(), key.size(), parts);
}

void kdf(Bytes key, Bytes input, uint8_t* out1, uint8_t* out2, uint8_t* out3) {
  uint8_t* outs[3] = {out1, out2, out3};
  const int n = out3 ? 3 : out2 ? 2 : 1;
  // `key` and `input` may alias an output: both are read only here, before any output is written.
  Hash t0 = hmac_blake2s(key, {input});
  Hash t;
  for (int i = 1; i <= n; ++i) {
    const uint8_t counter = static_cast<uint8_t>(i);
    const Bytes previous = i == 1 ? Bytes() : Bytes(t);
    // τ1..τn are all keyed with τ0: set it once.
    t = i == 1 ? hmac_blake2s(t0, {previous, Bytes(&counter, 1)}) : hmac_with(nullptr, 0, {previous, Bytes(&counter, 1)});
    if (outs[i - 1]) std::copy(t.begin(), t.end(), outs[i - 1]);
  }
  secure_zero(t0);
  secure_zero(t);
}

}  // namespace wgvm::crypto
