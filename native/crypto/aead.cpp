#include "crypto/aead.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <climits>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

namespace wgvm::crypto {
namespace {

// Fetched once: implicit fetches on every EVP_*Init cost more than the cipher itself for small packets.
const EVP_CIPHER* chacha20_poly1305() {
  static EVP_CIPHER* cipher = EVP_CIPHER_fetch(nullptr, "ChaCha20-Poly1305", nullptr);
  if (!cipher) std::abort();  // libcrypto without ChaCha20-Poly1305 cannot run WireGuard at all
  return cipher;
}

// One reusable context per thread, bound to ChaCha20-Poly1305 once: allocation, or even naming the
// cipher again, per packet would cost more than encrypting a 1,420-byte packet.
class CipherContext {
 public:
  CipherContext() : ctx_(EVP_CIPHER_CTX_new()) {
    if (!ctx_) throw std::bad_alloc();
    if (EVP_CipherInit_ex2(ctx_, chacha20_poly1305(), nullptr, nullptr, 1, nullptr) != 1) std::abort();
  }
  ~CipherContext() { EVP_CIPHER_CTX_free(ctx_); }
  CipherContext(const CipherContext&) = delete;
  CipherContext& operator=(const CipherContext&) = delete;
  EVP_CIPHER_CTX* get() { return ctx_; }

 private:
  EVP_CIPHER_CTX* ctx_;
};

EVP_CIPHER_CTX* thread_context() {
  thread_local CipherContext ctx;
  return ctx.get();
}

// The tag through the provider's parameters: EVP_CIPHER_CTX_ctrl would translate to the same call
// through a table of names, which costs more than a tenth of sealing a 1,420-byte packet.
bool tag_param(EVP_CIPHER_CTX* ctx, uint8_t* tag, bool set) {
  OSSL_PARAM params[2] = {OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, tag, kAeadTagLen),
                          OSSL_PARAM_construct_end()};
  return (set ? EVP_CIPHER_CTX_set_params(ctx, params) : EVP_CIPHER_CTX_get_params(ctx, params)) == 1;
}

int checked_int(size_t n) {
  if (n > static_cast<size_t>(INT_MAX)) throw std::length_error("AEAD input too large");
  return static_cast<int>(n);
}

}  // namespace

void aead_seal(const uint8_t key[kAeadKeyLen], const uint8_t nonce[kAeadNonceLen], Bytes plain, Bytes ad,
               uint8_t* out) {
  EVP_CIPHER_CTX* ctx = thread_context();
  int len = 0;
  bool ok = EVP_EncryptInit_ex2(ctx, nullptr, key, nonce, nullptr) == 1;
  if (ok && !ad.empty()) ok = EVP_EncryptUpdate(ctx, nullptr, &len, ad.data(), checked_int(ad.size())) == 1;
  if (ok && !plain.empty()) ok = EVP_EncryptUpdate(ctx, out, &len, plain.data(), checked_int(plain.size())) == 1;
  if (ok) ok = EVP_EncryptFinal_ex(ctx, out + plain.size(), &len) == 1;
  if (ok) ok = tag_param(ctx, out + plain.size(), false);
  // Sealing cannot fail for valid arguments; a failure here means libcrypto itself is broken.
  if (!ok) throw std::runtime_error("ChaCha20-Poly1305 seal failed in libcrypto");
}

bool aead_open(const uint8_t key[kAeadKeyLen], const uint8_t nonce[kAeadNonceLen], Bytes sealed, Bytes ad,
               uint8_t* out) {
  if (sealed.size() < kAeadTagLen) return false;
  const size_t text_len = sealed.size() - kAeadTagLen;
  uint8_t tag[kAeadTagLen];
  std::memcpy(tag, sealed.data() + text_len, kAeadTagLen);  // copy first: `out` may alias `sealed`

  EVP_CIPHER_CTX* ctx = thread_context();
  int len = 0;
  bool ok = EVP_DecryptInit_ex2(ctx, nullptr, key, nonce, nullptr) == 1;
  if (ok) ok = tag_param(ctx, tag, true);
  if (ok && !ad.empty()) ok = EVP_DecryptUpdate(ctx, nullptr, &len, ad.data(), checked_int(ad.size())) == 1;
  if (ok && text_len) ok = EVP_DecryptUpdate(ctx, out, &len, sealed.data(), checked_int(text_len)) == 1;
  if (ok) ok = EVP_DecryptFinal_ex(ctx, out + text_len, &len) == 1;
  return ok;
}

namespace {
struct XParams {
  ByteArray<32> subkey;
  ByteArray<kAeadNonceLen> nonce{};
  XParams(const uint8_t key[32], const uint8_t xnonce[kXAeadNonceLen]) {
    hchacha20(subkey.data(), key, xnonce);
    std::memcpy(nonce.data() + 4, xnonce + 16, 8);
  }
  ~XParams() { secure_zero(subkey); }
};
}  // namespace

void xaead_seal(const uint8_t key[kAeadKeyLen], const uint8_t nonce[kXAeadNonceLen], Bytes plain, Bytes ad,
                uint8_t* out) {
  XParams p(key, nonce);
  aead_seal(p.subkey.data(), p.nonce.data(), plain, ad, out);
}

bool xaead_open(const uint8_t key[kAeadKeyLen], const uint8_t nonce[kXAeadNonceLen], Bytes sealed, Bytes ad,
                uint8_t* out) {
  XParams p(key, nonce);
  return aead_open(p.subkey.data(), p.nonce.data(), sealed, ad, out);
}

}  // namespace wgvm::crypto
