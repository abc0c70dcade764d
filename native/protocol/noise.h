// Noise_IKpsk2 as WireGuard uses it (the WireGuard paper §5.4.2–§5.4.4): the four handshake
// computations and the derivation of transport keys. Pure functions of their arguments: the
// caller supplies time and randomness and decides what to do with the results.
#pragma once

#include <optional>

#include "crypto/blake2s.h"
#include "crypto/x25519.h"
#include "protocol/constants.h"
#include "protocol/random.h"

namespace wgvm::protocol {

using crypto::Hash;
using crypto::Key;
using Timestamp = ByteArray<12>;  // TAI64N

// This device's static key pair, with the values derived from it once.
struct Identity {
  bool has_key = false;
  Key private_key{};
  Key public_key{};
  crypto::X25519PrivateKey key;  // the private key loaded once for Diffie-Hellman
  Hash mac1_key{};    // HASH("mac1----" ‖ public key): checks mac1 on incoming handshakes
  Hash cookie_key{};  // HASH("cookie--" ‖ public key): encrypts our cookie replies

  void set(const Key& private_key);
  void clear();
};

// What the handshake needs to know about one remote peer.
struct PeerStatics {
  Key public_key{};
  Key preshared_key{};       // zeros when unset, as Noise_IKpsk2 specifies
  Key static_static{};       // DH(our private, their public), precomputed
  bool static_static_valid = false;
  Hash mac1_key{};           // HASH("mac1----" ‖ their public key)
  Hash cookie_key{};         // HASH("cookie--" ‖ their public key)

  void set_public_key(const Key& public_key);
  void recompute_static_static(const Identity&);
};

enum class HandshakeStage { kNone, kInitiationCreated, kInitiationConsumed, kResponseCreated, kResponseConsumed };

struct Handshake {
  HandshakeStage stage = HandshakeStage::kNone;
  Hash hash{};
  Hash chaining_key{};
  crypto::X25519PrivateKey local_ephemeral;
  Key remote_ephemeral{};
  uint32_t local_index = 0;
  uint32_t remote_index = 0;
  Timestamp latest_timestamp{};             // newest TAI64N consumed from this peer (replay protection)
  Nanos last_initiation_consumed = INT64_MIN / 2;  // monotonic time, for the initiation flood limit

  // Forgets the session in progress, keeping the replay and flood state that must outlive it.
  void clear_session();
};

// TAI64N of a wall-clock time (ns since the Unix epoch), the nanoseconds rounded down to 2^24 ns
// as WireGuard does so that a timestamp does not leak precise timing.
Timestamp tai64n(Nanos wall_ns);

// Fills an initiation's fields up to mac1 (bytes 0..115). False if DH fails (a small-order peer key).
bool create_initiation(const Identity&, const PeerStatics&, Handshake&, uint32_t local_index, Nanos wall_now,
                       Random&, uint8_t* msg);

// Consuming an initiation takes two steps, because the peer is known only once its static key is
// decrypted. Neither step changes any state unless the whole initiation is good.
struct InitiationInProgress {
  Key remote_static;
  Key remote_ephemeral;
  Hash hash, chaining_key;
};

// Step 1 (mac1 already checked): decrypts the initiator's static key. Empty if it does not decrypt.
std::optional<InitiationInProgress> open_initiation(const Identity&, const uint8_t* msg);

enum class InitiationVerdict { kAccepted, kDecrypt, kTimestampReplay, kFlood };

// Step 2, with the peer owning that static key: decrypts the timestamp, enforces "strictly newer
// than the last" and the initiation rate limit, and on success records the session in `handshake`.
InitiationVerdict accept_initiation(const PeerStatics&, Handshake&, InitiationInProgress&, const uint8_t* msg,
                                    Nanos mono_now);

// Fills a response's fields up to mac1 (bytes 0..59). Needs a handshake in kInitiationConsumed.
bool create_response(const PeerStatics&, Handshake&, uint32_t local_index, Random&, uint8_t* msg);

// Consumes a response (mac1 already checked) for a handshake in kInitiationCreated. Nothing changes on failure.
bool consume_response(const Identity&, const PeerStatics&, Handshake&, const uint8_t* msg);

// Transport keys from a completed handshake: KDF2(chaining key, ε). The handshake's secrets are erased.
struct SessionKeys {
  Key send, receive;
  bool initiator;
};
std::optional<SessionKeys> derive_session(Handshake&);

}  // namespace wgvm::protocol
