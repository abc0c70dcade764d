// MAC1, MAC2 and cookies (the WireGuard paper §5.4.4 and §5.4.7): the DoS defence of the handshake.
#pragma once

#include "crypto/blake2s.h"
#include "protocol/constants.h"
#include "protocol/endpoint.h"
#include "protocol/random.h"

namespace wgvm::protocol {

using crypto::Hash;
using crypto::Mac;

// The responder's side: checks mac1 and mac2 of incoming handshake messages and makes cookie replies.
class CookieChecker {
 public:
  // Checks mac1 = MAC(HASH("mac1----" ‖ our public key), msg[0 .. mac1)).
  static bool mac1_valid(const Hash& our_mac1_key, const uint8_t* msg, size_t size);

  // Checks mac2 = MAC(cookie for `from`, msg[0 .. mac2)). The secret rotates every 120 s.
  bool mac2_valid(const uint8_t* msg, size_t size, const Endpoint& from, Nanos now, Random&);

  // A 64-byte cookie reply to `msg` (an initiation or response) received from `from`.
  void make_reply(const uint8_t* msg, size_t size, const Endpoint& from, const Hash& our_cookie_key, Nanos now,
                  Random&, uint8_t out[64]);

 private:
  Mac cookie_for(const Endpoint& from, Nanos now, Random&);

  ByteArray<32> secret_{};
  Nanos secret_born_ = INT64_MIN / 2;
};

// The initiator's side, one per peer: adds mac1 and mac2 to outgoing handshakes and takes cookies.
class CookieGenerator {
 public:
  // Writes mac1 and mac2 into the last 32 bytes of a handshake message of `size` bytes.
  void add_macs(const Hash& peer_mac1_key, uint8_t* msg, size_t size, Nanos now);

  // Decrypts a cookie reply with HASH("cookie--" ‖ peer public key), bound to the last mac1 we sent.
  bool consume_reply(const Hash& peer_cookie_key, const uint8_t* reply, Nanos now);

  bool has_fresh_cookie(Nanos now) const;

 private:
  Mac cookie_{};
  Nanos cookie_received_ = INT64_MIN / 2;
  bool has_cookie_ = false;
  Mac last_mac1_{};
  bool has_last_mac1_ = false;
};

}  // namespace wgvm::protocol
