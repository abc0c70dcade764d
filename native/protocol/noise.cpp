#include "protocol/noise.h"

#include <cstring>
#include <tuple>

#include "crypto/aead.h"
#include "protocol/messages.h"

namespace wgvm::protocol {
namespace {

using namespace wgvm::crypto;

Bytes text(const char* s) { return Bytes(reinterpret_cast<const uint8_t*>(s), std::strlen(s)); }

// Ci = HASH(CONSTRUCTION); Hi = HASH(Ci ‖ IDENTIFIER): the same for every handshake.
struct InitialState {
  Hash chaining_key, hash;
  InitialState() {
    chaining_key = blake2s({text("Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s")});
    hash = blake2s({chaining_key, text("WireGuard v1 zx2c4 Jason@zx2c4.com")});
  }
};

const InitialState& initial() {
  static const InitialState s;
  return s;
}

void mix_hash(Hash& h, Bytes data) { h = blake2s({h, data}); }

// C = KDF1(C, input), or (C, key) = KDF2(C, input) where the step derives a key.
void mix_key(Hash& chaining_key, Bytes input, Key* key = nullptr) {
  kdf(chaining_key, input, chaining_key.data(), key ? key->data() : nullptr);
}

// mix_key of DH(private_key, public_key). False, with nothing changed, when the shared secret is
// all zeros (a small-order public key), which WireGuard refuses.
[[nodiscard]] bool mix_dh(Hash& chaining_key, const X25519PrivateKey& private_key, const Key& public_key,
                          Key* key = nullptr) {
  Key shared;
  if (!private_key.dh(shared.data(), public_key.data())) return false;
  mix_key(chaining_key, shared, key);
  secure_zero(shared);
  return true;
}

// An ephemeral public key enters both the chaining key and the hash.
void mix_ephemeral(Hash& chaining_key, Hash& h, const Key& ephemeral_public) {
  mix_key(chaining_key, ephemeral_public);
  mix_hash(h, ephemeral_public);
}

// (C, τ, key) = KDF3(C, preshared key); H = HASH(H ‖ τ).
void mix_preshared_key(Hash& chaining_key, Hash& h, const Key& preshared_key, Key& key) {
  Hash tau;
  kdf(chaining_key, preshared_key, chaining_key.data(), tau.data(), key.data());
  mix_hash(h, tau);
  secure_zero(tau);
}

const uint8_t kZeroNonce[kAeadNonceLen] = {};

// Every handshake AEAD uses a zero nonce and the hash so far as associated data, and the hash then
// takes in the sealed bytes.
void seal_and_hash(const Key& key, Bytes plain, Hash& h, uint8_t* out) {
  aead_seal(key.data(), kZeroNonce, plain, h, out);
  mix_hash(h, Bytes(out, plain.size() + kAeadTagLen));
}

[[nodiscard]] bool open_and_hash(const Key& key, Bytes sealed, Hash& h, uint8_t* out) {
  if (!aead_open(key.data(), kZeroNonce, sealed, h, out)) return false;
  mix_hash(h, sealed);
  return true;
}

X25519PrivateKey generate_ephemeral(Random& rng) {
  Key k;
  rng.fill(k.data(), k.size());
  clamp_private_key(k.data());
  X25519PrivateKey key(k.data());
  secure_zero(k);
  return key;
}

// Erases whatever a local holds when it goes out of scope, whichever way the function returns.
template <typename... T>
struct Scrub {
  std::tuple<T&...> secrets;
  explicit Scrub(T&... s) : secrets(s...) {}
  ~Scrub() {
    std::apply([](auto&... s) { (secure_zero(s.data(), s.size()), ...); }, secrets);
  }
};

}  // namespace

void SystemRandom::fill(uint8_t* out, size_t n) { random_bytes(out, n); }

void Identity::set(const Key& key) {
  private_key = key;
  clamp_private_key(private_key.data());
  this->key = X25519PrivateKey(private_key.data());
  public_key = this->key.public_key();
  mac1_key = blake2s({text("mac1----"), public_key});
  cookie_key = blake2s({text("cookie--"), public_key});
  has_key = true;
}

void Identity::clear() {
  secure_zero(private_key);
  *this = Identity{};
}

void PeerStatics::set_public_key(const Key& key) {
  public_key = key;
  mac1_key = blake2s({text("mac1----"), public_key});
  cookie_key = blake2s({text("cookie--"), public_key});
}

void PeerStatics::recompute_static_static(const Identity& identity) {
  static_static_valid = identity.has_key && identity.key.dh(static_static.data(), public_key.data());
}

void Handshake::clear_session() {
  secure_zero(hash);
  secure_zero(chaining_key);
  local_ephemeral.reset();
  secure_zero(remote_ephemeral);
  stage = HandshakeStage::kNone;
  local_index = remote_index = 0;
}

Timestamp tai64n(Nanos wall_ns) {
  constexpr uint64_t kTaiBase = 0x400000000000000aULL;  // 2^62 + 10 (TAI − UTC at the epoch)
  const uint64_t seconds = kTaiBase + static_cast<uint64_t>(wall_ns / kSecond);
  const uint32_t nanos = static_cast<uint32_t>(wall_ns % kSecond) & ~uint32_t((1u << 24) - 1);
  Timestamp t;
  for (int i = 0; i < 8; ++i) t[i] = uint8_t(seconds >> (56 - 8 * i));
  for (int i = 0; i < 4; ++i) t[8 + i] = uint8_t(nanos >> (24 - 8 * i));
  return t;
}

bool create_initiation(const Identity& identity, const PeerStatics& peer, Handshake& hs, uint32_t local_index,
                       Nanos wall_now, Random& rng, uint8_t* msg) {
  if (!identity.has_key || !peer.static_static_valid) return false;
  Hash h = initial().hash, ck = initial().chaining_key;
  const X25519PrivateKey ephemeral = generate_ephemeral(rng);
  Key k;
  Scrub scrub(k);

  write_header(msg, MessageType::kInitiation);
  store_le32(msg + initiation::kSender, local_index);
  mix_hash(h, peer.public_key);

  const Key& ephemeral_public = ephemeral.public_key();
  std::memcpy(msg + initiation::kEphemeral, ephemeral_public.data(), kKeySize);
  mix_ephemeral(ck, h, ephemeral_public);

  if (!mix_dh(ck, ephemeral, peer.public_key, &k)) return false;
  seal_and_hash(k, identity.public_key, h, msg + initiation::kStatic);

  mix_key(ck, peer.static_static, &k);
  seal_and_hash(k, tai64n(wall_now), h, msg + initiation::kTimestamp);

  hs.clear_session();
  hs.stage = HandshakeStage::kInitiationCreated;
  hs.hash = h;
  hs.chaining_key = ck;
  hs.local_ephemeral = ephemeral;
  hs.local_index = local_index;
  return true;
}

std::optional<InitiationInProgress> open_initiation(const Identity& identity, const uint8_t* msg) {
  if (!identity.has_key) return std::nullopt;
  InitiationInProgress p;
  p.hash = initial().hash;
  p.chaining_key = initial().chaining_key;
  Key k;
  Scrub scrub(k);

  mix_hash(p.hash, identity.public_key);
  std::memcpy(p.remote_ephemeral.data(), msg + initiation::kEphemeral, kKeySize);
  mix_ephemeral(p.chaining_key, p.hash, p.remote_ephemeral);

  if (!mix_dh(p.chaining_key, identity.key, p.remote_ephemeral, &k)) return std::nullopt;
  const Bytes sealed_static(msg + initiation::kStatic, kKeySize + kTagSize);
  if (!open_and_hash(k, sealed_static, p.hash, p.remote_static.data())) return std::nullopt;
  return p;
}

InitiationVerdict accept_initiation(const PeerStatics& peer, Handshake& hs, InitiationInProgress& p,
                                    const uint8_t* msg, Nanos mono_now) {
  if (!peer.static_static_valid) return InitiationVerdict::kDecrypt;
  Key k;
  Scrub scrub(k);
  mix_key(p.chaining_key, peer.static_static, &k);
  Timestamp ts;
  const Bytes sealed_timestamp(msg + initiation::kTimestamp, kTimestampSize + kTagSize);
  if (!open_and_hash(k, sealed_timestamp, p.hash, ts.data())) return InitiationVerdict::kDecrypt;

  // Big-endian TAI64N compares as bytes. An old or repeated timestamp is a replayed initiation.
  if (std::memcmp(ts.data(), hs.latest_timestamp.data(), ts.size()) <= 0) return InitiationVerdict::kTimestampReplay;
  if (mono_now - hs.last_initiation_consumed < kHandshakeInitiationRate) return InitiationVerdict::kFlood;

  hs.clear_session();
  hs.stage = HandshakeStage::kInitiationConsumed;
  hs.hash = p.hash;
  hs.chaining_key = p.chaining_key;
  hs.remote_ephemeral = p.remote_ephemeral;
  hs.remote_index = load_le32(msg + initiation::kSender);
  hs.latest_timestamp = ts;
  hs.last_initiation_consumed = mono_now;
  return InitiationVerdict::kAccepted;
}

bool create_response(const PeerStatics& peer, Handshake& hs, uint32_t local_index, Random& rng, uint8_t* msg) {
  if (hs.stage != HandshakeStage::kInitiationConsumed) return false;
  Hash h = hs.hash, ck = hs.chaining_key;
  const X25519PrivateKey ephemeral = generate_ephemeral(rng);
  Key k;
  Scrub scrub(k);

  write_header(msg, MessageType::kResponse);
  store_le32(msg + response::kSender, local_index);
  store_le32(msg + response::kReceiver, hs.remote_index);

  const Key& ephemeral_public = ephemeral.public_key();
  std::memcpy(msg + response::kEphemeral, ephemeral_public.data(), kKeySize);
  mix_ephemeral(ck, h, ephemeral_public);

  if (!mix_dh(ck, ephemeral, hs.remote_ephemeral)) return false;
  if (!mix_dh(ck, ephemeral, peer.public_key)) return false;

  mix_preshared_key(ck, h, peer.preshared_key, k);
  seal_and_hash(k, {}, h, msg + response::kEmpty);

  hs.stage = HandshakeStage::kResponseCreated;
  hs.hash = h;
  hs.chaining_key = ck;
  hs.local_index = local_index;
  return true;
}

bool consume_response(const Identity& identity, const PeerStatics& peer, Handshake& hs, const uint8_t* msg) {
  if (hs.stage != HandshakeStage::kInitiationCreated || !identity.has_key) return false;
  Hash h = hs.hash, ck = hs.chaining_key;
  Key remote_ephemeral, k;
  Scrub scrub(k, ck, h);

  std::memcpy(remote_ephemeral.data(), msg + response::kEphemeral, kKeySize);
  mix_ephemeral(ck, h, remote_ephemeral);

  if (!mix_dh(ck, hs.local_ephemeral, remote_ephemeral)) return false;
  if (!mix_dh(ck, identity.key, remote_ephemeral)) return false;

  mix_preshared_key(ck, h, peer.preshared_key, k);
  if (!open_and_hash(k, Bytes(msg + response::kEmpty, kTagSize), h, nullptr)) return false;

  hs.stage = HandshakeStage::kResponseConsumed;
  hs.hash = h;
  hs.chaining_key = ck;
  hs.remote_ephemeral = remote_ephemeral;
  hs.remote_index = load_le32(msg + response::kSender);
  return true;
}

std::optional<SessionKeys> derive_session(Handshake& hs) {
  SessionKeys keys;
  if (hs.stage == HandshakeStage::kResponseConsumed) {
    keys.initiator = true;
    kdf(hs.chaining_key, {}, keys.send.data(), keys.receive.data());
  } else if (hs.stage == HandshakeStage::kResponseCreated) {
    keys.initiator = false;
    kdf(hs.chaining_key, {}, keys.receive.data(), keys.send.data());
  } else {
    return std::nullopt;
  }
  const uint32_t local = hs.local_index, remote = hs.remote_index;
  hs.clear_session();
  // The indices stay readable for the caller, which moves them into the new keypair.
  hs.local_index = local;
  hs.remote_index = remote;
  return keys;
}

}  // namespace wgvm::protocol
