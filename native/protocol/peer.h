// Everything the protocol keeps about one remote peer: its keys, the handshake in progress, its
// three keypairs, its timers and counters.
#pragma once

#include <algorithm>
#include <deque>
#include <memory>
#include <vector>

#include "protocol/cookie.h"
#include "protocol/endpoint.h"
#include "protocol/keypair.h"
#include "protocol/noise.h"

namespace wgvm::protocol {

constexpr Nanos kNever = INT64_MAX;

// WireGuard's per-peer timers as deadlines (monotonic ns; kNever when not armed). Only the timer
// events and expiry handlers of core_timers.cpp set or clear them.
struct PeerTimers {
  Nanos retransmit_handshake = kNever;  // REKEY_TIMEOUT + jitter after an initiation with no response
  Nanos send_keepalive = kNever;        // KEEPALIVE_TIMEOUT after data received, if we sent nothing back
  Nanos new_handshake = kNever;         // 15 s + jitter after data sent, if nothing came back
  Nanos zero_key_material = kNever;     // 3 × REJECT_AFTER_TIME after the last session was derived
  Nanos persistent_keepalive = kNever;  // the configured interval after any authenticated packet
  int handshake_attempts = 0;
  bool sent_last_minute_handshake = false;
  bool need_another_keepalive = false;

  Nanos earliest() const {
    return std::min({retransmit_handshake, send_keepalive, new_handshake, zero_key_material, persistent_keepalive});
  }
};

class Peer {
 public:
  explicit Peer(const crypto::Key& public_key) { statics.set_public_key(public_key); }
  Peer(const Peer&) = delete;
  Peer& operator=(const Peer&) = delete;

  const crypto::Key& public_key() const { return statics.public_key; }

  PeerStatics statics;
  Handshake handshake;
  CookieGenerator cookies;

  // current sends and receives; previous still receives (packets in flight across a rekey);
  // next (responder only) waits for the initiator's first data packet to confirm the session.
  std::unique_ptr<Keypair> current, previous, next;

  Endpoint endpoint;
  uint16_t persistent_keepalive_interval = 0;  // seconds, 0 = off
  PeerTimers timers;
  Nanos last_sent_initiation = INT64_MIN / 2;  // monotonic
  Nanos last_handshake_wall = 0;               // wall-clock ns of the last completed handshake; 0 = never

  // Bytes on the wire (UDP payloads), handshakes included, as wireguard-go counts them.
  uint64_t rx_bytes = 0;
  uint64_t tx_bytes = 0;

  // Packets from the tunnel waiting for a session (bounded: the oldest go first).
  std::deque<std::vector<uint8_t>> staged;

  uint64_t order = 0;  // position in the device's peer list
  // When the core's schedule looks at this peer next (kNever: not scheduled); never later than
  // timers.earliest(), and possibly earlier (a deadline that moved later is not chased).
  Nanos scheduled = kNever;
  bool isolated = false;  // device policy, kept here for the peer's lifetime: no relay to or from other peers
};

}  // namespace wgvm::protocol
