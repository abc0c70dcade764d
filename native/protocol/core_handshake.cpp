// The handshake side of the core: admitting handshake messages past the DoS checks, answering and
// completing handshakes, starting them, and turning a completed one into a session.
#include "protocol/core.h"
#include "protocol/messages.h"

namespace wgvm::protocol {

// ---------------------------------------------------------------------------------------------
// receiving handshake messages

// mac1 always; under load, a valid mac2 (else a cookie reply), the per-address rate limit and the
// budget of all sources together.
bool Core::admit_handshake(const uint8_t* msg, size_t size, const Endpoint& from, const Now& now, Output& out) {
  if (!identity_.has_key) return drop(Drop::kNoPrivateKey), false;
  if (!CookieChecker::mac1_valid(identity_.mac1_key, msg, size)) return drop(Drop::kBadMac1), false;
  load_.handshake_arrived(now.mono);
  if (!under_load(now.mono)) return ++handshakes_admitted_, true;
  if (!cookie_checker_.mac2_valid(msg, size, from, now.mono, rng_)) {
    uint8_t reply[cookie_reply::kSize];
    cookie_checker_.make_reply(msg, size, from, identity_.cookie_key, now.mono, rng_, reply);
    out.send(from, Bytes(reply, sizeof reply));
    return drop(Drop::kCookieSent), false;
  }
  if (!rate_limiter_.allow(from, now.mono)) return drop(Drop::kRateLimited), false;
  if (!load_.take_slot(now.mono)) return drop(Drop::kHandshakeBudget), false;
  return ++handshakes_admitted_, true;
}

void Core::handle_initiation(const uint8_t* msg, const Endpoint& from, const Now& now, Output& out) {
  if (!admit_handshake(msg, initiation::kSize, from, now, out)) return;
  auto opened = open_initiation(identity_, msg);
  if (!opened) return drop(Drop::kHandshakeDecrypt);
  struct ScrubOpened {
    InitiationInProgress& p;
    ~ScrubOpened() {
      secure_zero(p.hash);
      secure_zero(p.chaining_key);
    }
  } scrub_opened{*opened};
  Peer* peer = find_peer(opened->remote_static);
  if (!peer) return drop(Drop::kUnknownPeer);

  // Validate against a copy so that a failure changes nothing, then swap the result in.
  Handshake candidate = peer->handshake;
  switch (accept_initiation(peer->statics, candidate, *opened, msg, now.mono)) {
    case InitiationVerdict::kAccepted: break;
    case InitiationVerdict::kDecrypt: return drop(Drop::kHandshakeDecrypt);
    case InitiationVerdict::kTimestampReplay: return drop(Drop::kTimestampReplay);
    case InitiationVerdict::kFlood: return drop(Drop::kInitiationFlood);
  }
  uint8_t reply[response::kSize];
  const uint32_t index = allocate_index(*peer, nullptr);
  if (!create_response(peer->statics, candidate, index, rng_, reply)) {
    release_index(index);
    return drop(Drop::kHandshakeDecrypt);
  }
  release_handshake_index(*peer);
  peer->handshake = candidate;
  secure_zero(candidate.chaining_key);
  secure_zero(candidate.hash);

  handshake_message_accepted(*peer, initiation::kSize, from, now, out);
  peer->cookies.add_macs(peer->statics.mac1_key, reply, sizeof reply, now.mono);
  send_authenticated(*peer, Bytes(reply, sizeof reply), now, out);
}

void Core::handle_response(const uint8_t* msg, const Endpoint& from, const Now& now, Output& out) {
  if (!admit_handshake(msg, response::kSize, from, now, out)) return;
  auto it = index_table_.find(load_le32(msg + response::kReceiver));
  if (it == index_table_.end() || it->second.keypair != nullptr) return drop(Drop::kUnexpectedResponse);
  Peer& peer = *it->second.peer;
  if (peer.handshake.stage != HandshakeStage::kInitiationCreated) return drop(Drop::kUnexpectedResponse);
  if (!consume_response(identity_, peer.statics, peer.handshake, msg)) return drop(Drop::kHandshakeDecrypt);

  handshake_message_accepted(peer, response::kSize, from, now, out);
  handshake_complete(peer, now, out);
  send_keepalive(peer, now, out);  // confirms the session to the responder at once
}

void Core::handle_cookie_reply(const uint8_t* msg, const Now& now) {
  auto it = index_table_.find(load_le32(msg + cookie_reply::kReceiver));
  if (it == index_table_.end()) return drop(Drop::kUnexpectedResponse);
  Peer& peer = *it->second.peer;
  if (!peer.cookies.consume_reply(peer.statics.cookie_key, msg, now.mono)) return drop(Drop::kBadCookie);
}

// An initiation or response from the peer passed every check and is now its handshake state.
void Core::handshake_message_accepted(Peer& peer, size_t size, const Endpoint& from, const Now& now, Output& out) {
  peer.rx_bytes += size;
  update_endpoint(peer, from, out);
  timers_any_authenticated_packet_received(peer);
  begin_session(peer, now);
}

// ---------------------------------------------------------------------------------------------
// sessions

// Turns the completed handshake into a keypair under the handshake's index (WireGuard's rotation:
// an initiator uses it at once, a responder keeps it as `next` until the initiator's first packet).
void Core::begin_session(Peer& peer, const Now& now) {
  auto keys = derive_session(peer.handshake);
  if (!keys) return;
  auto kp = std::make_unique<Keypair>();
  kp->id = ++next_keypair_id_;
  kp->send_key = keys->send;
  kp->receive_key = keys->receive;
  kp->initiator = keys->initiator;
  kp->created = now.mono;
  kp->local_index = peer.handshake.local_index;
  kp->remote_index = peer.handshake.remote_index;
  secure_zero(keys->send);
  secure_zero(keys->receive);
  index_table_[kp->local_index] = IndexEntry{&peer, kp.get()};
  peer.handshake.local_index = 0;

  if (kp->initiator) {
    if (peer.next) {
      replace_keypair(peer.previous, std::move(peer.next));
      replace_keypair(peer.current, nullptr);
    } else {
      replace_keypair(peer.previous, std::move(peer.current));
    }
    replace_keypair(peer.current, std::move(kp));
  } else {
    replace_keypair(peer.next, std::move(kp));
    replace_keypair(peer.previous, nullptr);
  }
  timers_session_derived(peer, now);
}

// The responder's `next` keypair is confirmed by the initiator's first packet on it.
void Core::rotate_on_confirmation(Peer& peer, const Now& now, Output& out) {
  replace_keypair(peer.previous, std::move(peer.current));
  peer.current = std::move(peer.next);
  handshake_complete(peer, now, out);
  send_staged(peer, now, out);
}

void Core::handshake_complete(Peer& peer, const Now& now, Output& out) {
  timers_handshake_complete(peer, now);
  out.handshake_completed(peer);
}

void Core::keep_key_fresh_sending(Peer& peer, const Now& now, Output& out) {
  const Keypair* kp = peer.current.get();
  if (kp && (kp->send_counter > kRekeyAfterMessages || (kp->initiator && kp->age(now.mono) > kRekeyAfterTime)))
    send_initiation(peer, now, out, false);
}

void Core::keep_key_fresh_receiving(Peer& peer, const Now& now, Output& out) {
  if (peer.timers.sent_last_minute_handshake) return;
  const Keypair* kp = peer.current.get();
  if (kp && kp->initiator && kp->age(now.mono) > kRekeyOnReceiveAge) {
    peer.timers.sent_last_minute_handshake = true;
    send_initiation(peer, now, out, false);
  }
}

// ---------------------------------------------------------------------------------------------
// initiating

void Core::initiate_handshake(Peer& peer, const Now& now, Output& out) { send_initiation(peer, now, out, false); }

void Core::send_initiation(Peer& peer, const Now& now, Output& out, bool is_retry) {
  if (!is_retry) peer.timers.handshake_attempts = 0;
  if (now.mono - peer.last_sent_initiation < kRekeyTimeout) return;  // at most one per REKEY_TIMEOUT
  if (!identity_.has_key) return drop(Drop::kNoPrivateKey);
  if (!peer.endpoint.valid()) return drop(Drop::kNoEndpoint);

  uint8_t msg[initiation::kSize];
  const uint32_t index = allocate_index(peer, nullptr);
  Handshake candidate = peer.handshake;
  if (!create_initiation(identity_, peer.statics, candidate, index, now.wall, rng_, msg)) {
    release_index(index);
    return drop(Drop::kHandshakeDecrypt);
  }
  release_handshake_index(peer);
  peer.handshake = candidate;
  secure_zero(candidate.hash);
  secure_zero(candidate.chaining_key);
  peer.last_sent_initiation = now.mono;

  peer.cookies.add_macs(peer.statics.mac1_key, msg, sizeof msg, now.mono);
  send_authenticated(peer, Bytes(msg, sizeof msg), now, out);
  timers_handshake_initiated(peer, now);
}

}  // namespace wgvm::protocol
