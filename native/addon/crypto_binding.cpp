#include "addon/crypto_binding.h"

#include "addon/args.h"
#include "crypto/aead.h"
#include "crypto/blake2s.h"
#include "crypto/x25519.h"

namespace wgvm::addon {
namespace {

using namespace wgvm::crypto;

Napi::Buffer<uint8_t> copy_out(Napi::Env env, Bytes b) { return Napi::Buffer<uint8_t>::Copy(env, b.data(), b.size()); }

// The AEAD functions take (key, nonce, text, associated data?): one set of checks for all four.
struct AeadArgs {
  Bytes key, nonce, text, ad;
};
AeadArgs aead_args(const Napi::CallbackInfo& info, size_t nonce_len, const char* text_name) {
  return {bytes_arg(info, 0, "key", kAeadKeyLen), bytes_arg(info, 1, "nonce", nonce_len), bytes_arg(info, 2, text_name),
          optional_bytes_arg(info, 3, "associated data")};
}

using SealFunction = void (*)(const uint8_t* key, const uint8_t* nonce, Bytes plain, Bytes ad, uint8_t* out);
using OpenFunction = bool (*)(const uint8_t* key, const uint8_t* nonce, Bytes sealed, Bytes ad, uint8_t* out);

Napi::Value seal_with(const Napi::CallbackInfo& info, size_t nonce_len, SealFunction seal) {
  const AeadArgs a = aead_args(info, nonce_len, "plaintext");
  auto out = Napi::Buffer<uint8_t>::New(info.Env(), a.text.size() + kAeadTagLen);
  seal(a.key.data(), a.nonce.data(), a.text, a.ad, out.Data());
  return out;
}

// Returns null when the tag does not authenticate: a normal outcome, not an exception.
Napi::Value open_with(const Napi::CallbackInfo& info, size_t nonce_len, OpenFunction open) {
  const AeadArgs a = aead_args(info, nonce_len, "ciphertext");
  if (a.text.size() < kAeadTagLen) return info.Env().Null();
  auto out = Napi::Buffer<uint8_t>::New(info.Env(), a.text.size() - kAeadTagLen);
  if (!open(a.key.data(), a.nonce.data(), a.text, a.ad, out.Data())) return info.Env().Null();
  return out;
}

Napi::Value Seal(const Napi::CallbackInfo& info) { return seal_with(info, kAeadNonceLen, aead_seal); }
Napi::Value Open(const Napi::CallbackInfo& info) { return open_with(info, kAeadNonceLen, aead_open); }
Napi::Value XSeal(const Napi::CallbackInfo& info) { return seal_with(info, kXAeadNonceLen, xaead_seal); }
Napi::Value XOpen(const Napi::CallbackInfo& info) { return open_with(info, kXAeadNonceLen, xaead_open); }

Napi::Value HChaCha20(const Napi::CallbackInfo& info) {
  Bytes key = bytes_arg(info, 0, "key", 32);
  Bytes nonce = bytes_arg(info, 1, "nonce", 16);
  ByteArray<32> out;
  hchacha20(out.data(), key.data(), nonce.data());
  return copy_out(info.Env(), out);
}

Napi::Value Blake2s(const Napi::CallbackInfo& info) {
  return copy_out(info.Env(), blake2s({bytes_arg(info, 0, "data")}));
}

Napi::Value Blake2sKeyed(const Napi::CallbackInfo& info) {
  Bytes key = bytes_arg(info, 0, "key");
  Bytes data = bytes_arg(info, 1, "data");
  if (key.empty() || key.size() > 32) throw Napi::RangeError::New(info.Env(), "key must be 1..32 bytes");
  uint32_t out_len = info[2].IsUndefined() ? 32 : info[2].ToNumber().Uint32Value();
  if (out_len < 1 || out_len > 32) throw Napi::RangeError::New(info.Env(), "output length must be 1..32");
  auto out = Napi::Buffer<uint8_t>::New(info.Env(), out_len);
  blake2s_keyed(out.Data(), out_len, key, {data});
  return out;
}

Napi::Value WgMac(const Napi::CallbackInfo& info) {
  return copy_out(info.Env(), mac(bytes_arg(info, 0, "key", 32), {bytes_arg(info, 1, "data")}));
}

Napi::Value HmacBlake2s(const Napi::CallbackInfo& info) {
  return copy_out(info.Env(), hmac_blake2s(bytes_arg(info, 0, "key"), {bytes_arg(info, 1, "data")}));
}

// kdf(n, key, input) → [τ1 … τn]
Napi::Value Kdf(const Napi::CallbackInfo& info) {
  uint32_t n = info[0].IsNumber() ? info[0].As<Napi::Number>().Uint32Value() : 0;
  if (n < 1 || n > 3) throw Napi::RangeError::New(info.Env(), "n must be 1, 2 or 3");
  Bytes key = bytes_arg(info, 1, "key", kHashLen);
  Bytes input = bytes_arg(info, 2, "input");
  ByteArray<kHashLen> t[3];
  kdf(key, input, t[0].data(), n > 1 ? t[1].data() : nullptr, n > 2 ? t[2].data() : nullptr);
  auto result = Napi::Array::New(info.Env(), n);
  for (uint32_t i = 0; i < n; ++i) result.Set(i, copy_out(info.Env(), t[i]));
  return result;
}

Napi::Value X25519PublicKey(const Napi::CallbackInfo& info) {
  return copy_out(info.Env(), x25519_public_key(bytes_arg(info, 0, "private key", kKeyLen).data()));
}

// Returns null for an all-zero shared secret (a small-order public key).
Napi::Value X25519(const Napi::CallbackInfo& info) {
  Bytes priv = bytes_arg(info, 0, "private key", kKeyLen);
  Bytes pub = bytes_arg(info, 1, "public key", kKeyLen);
  Key out;
  if (!x25519(out.data(), priv.data(), pub.data())) return info.Env().Null();
  return copy_out(info.Env(), out);
}

}  // namespace

Napi::Object crypto_exports(Napi::Env env) {
  static constexpr std::pair<const char*, Napi::Function::Callback> kFunctions[] = {
      {"chacha20poly1305Seal", Seal},
      {"chacha20poly1305Open", Open},
      {"xchacha20poly1305Seal", XSeal},
      {"xchacha20poly1305Open", XOpen},
      {"hchacha20", HChaCha20},
      {"blake2s", Blake2s},
      {"blake2sKeyed", Blake2sKeyed},
      {"mac", WgMac},
      {"hmacBlake2s", HmacBlake2s},
      {"kdf", Kdf},
      {"x25519PublicKey", X25519PublicKey},
      {"x25519", X25519},
  };
  auto o = Napi::Object::New(env);
  for (const auto& [name, function] : kFunctions) o.Set(name, Napi::Function::New(env, function));
  return o;
}

}  // namespace wgvm::addon
