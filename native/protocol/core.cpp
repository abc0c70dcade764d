#include "protocol/core.h"

#include <algorithm>
#include <cstring>

#include "crypto/aead.h"
#include "protocol/messages.h"

namespace wgvm::protocol {
namespace {

using crypto::Key;

constexpr size_t kPaddingMultiple = 16;

// The length of the IP packet inside a decrypted (padded) payload, or 0 if it is not a well-formed
// IPv4 or IPv6 packet. The source address is returned through `src`/`family`.
size_t inner_packet_length(Bytes plain, const uint8_t** src, uint8_t* family) {
  if (plain.empty()) return 0;
  const uint8_t version = plain[0] >> 4;
  if (version == 4 && plain.size() >= 20) {
    const size_t total = size_t(plain[2]) << 8 | plain[3];
    if (total < 20 || total > plain.size()) return 0;
    *src = plain.data() + 12;
    *family = 4;
    return total;
  }
  if (version == 6 && plain.size() >= 40) {
    const size_t total = 40 + (size_t(plain[4]) << 8 | plain[5]);
    if (total > plain.size()) return 0;
    *src = plain.data() + 8;
    *family = 6;
    return total;
  }
  return 0;
}

// WireGuard pads the plaintext to a multiple of 16 bytes, but never past the MTU.
size_t padded_length(size_t len, size_t mtu) {
  size_t last_unit = len;
  if (mtu != 0 && last_unit > mtu) last_unit %= mtu;
  size_t padded = (last_unit + kPaddingMultiple - 1) & ~(kPaddingMultiple - 1);
  if (mtu != 0 && padded > mtu) padded = mtu;
  return len + (padded - last_unit);
}

}  // namespace

const char* drop_name(Drop d) {
  static const char* const names[] = {
      "too_short",        "unknown_type",        "bad_size",         "no_private_key",  "bad_mac1",
      "cookie_sent",      "rate_limited",        "handshake_budget", "handshake_decrypt", "unknown_peer",
      "timestamp_replay", "initiation_flood",    "unexpected_response", "bad_cookie",   "unknown_index",
      "expired_keypair",  "replay",              "decrypt",          "malformed_inner", "source_not_allowed",
      "no_route",         "no_endpoint",         "staged_overflow",  "handshake_failed"};
  static_assert(std::size(names) == static_cast<size_t>(Drop::kCount));
  return names[static_cast<size_t>(d)];
}

size_t Core::KeyHash::operator()(const Key& k) const noexcept {
  size_t h;
  std::memcpy(&h, k.data(), sizeof h);  // public keys are uniformly distributed already
  return h;
}

Core::~Core() { remove_all_peers(); }

// ---------------------------------------------------------------------------------------------
// configuration

void Core::set_private_key(const Key& private_key) {
  Key clamped = private_key;
  crypto::clamp_private_key(clamped.data());
  const bool unchanged = identity_.has_key && equal_ct(clamped, identity_.private_key);
  secure_zero(clamped);
  if (unchanged) return;
  identity_.set(private_key);
  // A peer with our own public key would be talking to itself: WireGuard removes it.
  if (Peer* self = find_peer(identity_.public_key)) remove_peer(*self);
  for (auto& [order, peer] : peers_) {
    peer->statics.recompute_static_static(identity_);
    expire_sessions(*peer);
  }
}

void Core::clear_private_key() {
  identity_.clear();
  for (auto& [order, peer] : peers_) {
    peer->statics.recompute_static_static(identity_);
    expire_sessions(*peer);
  }
}

Peer& Core::add_peer(const Key& public_key) {
  if (Peer* existing = find_peer(public_key)) return *existing;
  auto peer = std::make_unique<Peer>(public_key);
  peer->statics.recompute_static_static(identity_);
  peer->order = next_order_++;
  Peer& ref = *peer;
  peers_by_key_[public_key] = &ref;
  peers_.emplace(ref.order, std::move(peer));
  return ref;
}

Peer* Core::find_peer(const Key& public_key) {
  auto it = peers_by_key_.find(public_key);
  return it == peers_by_key_.end() ? nullptr : it->second;
}

void Core::remove_peer(Peer& peer) {
  clear_sessions(peer);
  allowed_ips_.remove_all(&peer);
  peers_by_key_.erase(peer.public_key());
  peers_.erase(peer.order);  // destroys the peer
}

void Core::remove_all_peers() {
  while (!peers_.empty()) remove_peer(*peers_.begin()->second);
}

void Core::set_preshared_key(Peer& peer, const Key& psk) { peer.statics.preshared_key = psk; }

void Core::set_persistent_keepalive(Peer& peer, uint16_t seconds, const Now& now, Output& out) {
  peer.persistent_keepalive_interval = seconds;
  if (seconds == 0) {
    peer.timers.persistent_keepalive = kNever;
  } else if (peer.endpoint.valid() && identity_.has_key) {
    send_keepalive(peer, now, out);
  }
}

// ---------------------------------------------------------------------------------------------
// the index table

uint32_t Core::allocate_index(Peer& peer, Keypair* keypair) {
  for (;;) {
    const uint32_t index = rng_.u32();
    if (index_table_.try_emplace(index, IndexEntry{&peer, keypair}).second) return index;
  }
}

void Core::release_index(uint32_t index) { index_table_.erase(index); }

void Core::release_handshake_index(Peer& peer) {
  auto it = index_table_.find(peer.handshake.local_index);
  if (it != index_table_.end() && it->second.peer == &peer && it->second.keypair == nullptr) index_table_.erase(it);
}

// Puts `with` into a keypair slot; the keypair it replaces stops being reachable by its index.
void Core::replace_keypair(std::unique_ptr<Keypair>& slot, std::unique_ptr<Keypair> with) {
  if (slot) release_index(slot->local_index);
  slot = std::move(with);
}

void Core::expire_sessions(Peer& peer) {
  release_handshake_index(peer);
  peer.handshake.clear_session();
  if (peer.current) peer.current->send_counter = kRejectAfterMessages;
  if (peer.next) peer.next->send_counter = kRejectAfterMessages;
}

void Core::clear_sessions(Peer& peer) {
  release_handshake_index(peer);
  peer.handshake.clear_session();
  replace_keypair(peer.current, nullptr);
  replace_keypair(peer.previous, nullptr);
  replace_keypair(peer.next, nullptr);
}

// ---------------------------------------------------------------------------------------------
// receiving

void Core::receive(Bytes d, const Endpoint& from, const Now& now, Output& out) {
  if (d.size() < 4) return drop(Drop::kTooShort);
  // The type and its three reserved bytes read as one little-endian word, as WireGuard does.
  switch (load_le32(d.data())) {
    case static_cast<uint32_t>(MessageType::kInitiation):
      if (d.size() != initiation::kSize) return drop(Drop::kBadSize);
      return handle_initiation(d.data(), from, now, out);
    case static_cast<uint32_t>(MessageType::kResponse):
      if (d.size() != response::kSize) return drop(Drop::kBadSize);
      return handle_response(d.data(), from, now, out);
    case static_cast<uint32_t>(MessageType::kCookieReply):
      if (d.size() != cookie_reply::kSize) return drop(Drop::kBadSize);
      return handle_cookie_reply(d.data(), now);
    case static_cast<uint32_t>(MessageType::kTransport):
      if (d.size() < transport::kMinSize) return drop(Drop::kBadSize);
      return handle_transport(d, from, now, out);
    default:
      return drop(Drop::kUnknownType);
  }
}

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

  peer->rx_bytes += initiation::kSize;
  update_endpoint(*peer, from, out);
  peer->timers.new_handshake = kNever;  // any authenticated packet received
  begin_session(*peer, now);

  peer->cookies.add_macs(peer->statics.mac1_key, reply, sizeof reply, now.mono);
  out.send(peer->endpoint, Bytes(reply, sizeof reply));
  peer->tx_bytes += sizeof reply;
  peer->timers.send_keepalive = kNever;  // any authenticated packet sent
  if (peer->persistent_keepalive_interval)
    peer->timers.persistent_keepalive = now.mono + Nanos(peer->persistent_keepalive_interval) * kSecond;
}

void Core::handle_response(const uint8_t* msg, const Endpoint& from, const Now& now, Output& out) {
  if (!admit_handshake(msg, response::kSize, from, now, out)) return;
  auto it = index_table_.find(load_le32(msg + response::kReceiver));
  if (it == index_table_.end() || it->second.keypair != nullptr) return drop(Drop::kUnexpectedResponse);
  Peer& peer = *it->second.peer;
  if (peer.handshake.stage != HandshakeStage::kInitiationCreated) return drop(Drop::kUnexpectedResponse);
  if (!consume_response(identity_, peer.statics, peer.handshake, msg)) return drop(Drop::kHandshakeDecrypt);

  peer.rx_bytes += response::kSize;
  update_endpoint(peer, from, out);
  peer.timers.new_handshake = kNever;
  begin_session(peer, now);
  handshake_complete(peer, now, out);
  send_keepalive(peer, now, out);  // confirms the session to the responder at once
}

void Core::handle_cookie_reply(const uint8_t* msg, const Now& now) {
  auto it = index_table_.find(load_le32(msg + cookie_reply::kReceiver));
  if (it == index_table_.end()) return drop(Drop::kUnexpectedResponse);
  Peer& peer = *it->second.peer;
  if (!peer.cookies.consume_reply(peer.statics.cookie_key, msg, now.mono)) return drop(Drop::kBadCookie);
}

void Core::handle_transport(Bytes d, const Endpoint& from, const Now& now, Output& out) {
  auto it = index_table_.find(load_le32(d.data() + transport::kReceiver));
  if (it == index_table_.end() || it->second.keypair == nullptr) return drop(Drop::kUnknownIndex);
  Peer& peer = *it->second.peer;
  Keypair& kp = *it->second.keypair;
  const uint64_t counter = load_le64(d.data() + transport::kCounter);
  if (!kp.can_receive(now.mono) || counter >= kRejectAfterMessages) return drop(Drop::kExpiredKeypair);
  if (!kp.replay.would_accept(counter)) return drop(Drop::kReplay);

  const Bytes sealed = d.subspan(transport::kHeaderSize);
  rx_buffer_.resize(sealed.size());
  const auto nonce = crypto::counter_nonce(counter);
  if (!crypto::aead_open(kp.receive_key.data(), nonce.data(), sealed, {}, rx_buffer_.data()))
    return drop(Drop::kDecrypt);
  if (!kp.replay.accept(counter)) return drop(Drop::kReplay);
  const Bytes plain(rx_buffer_.data(), sealed.size() - crypto::kAeadTagLen);

  update_endpoint(peer, from, out);
  if (&kp == peer.next.get()) rotate_on_confirmation(peer, kp, now, out);
  keep_key_fresh_receiving(peer, now, out);
  if (peer.persistent_keepalive_interval)
    peer.timers.persistent_keepalive = now.mono + Nanos(peer.persistent_keepalive_interval) * kSecond;
  peer.timers.new_handshake = kNever;
  peer.rx_bytes += d.size();
  if (plain.empty()) return;  // a keepalive

  // data received: answer within KEEPALIVE_TIMEOUT if we have nothing else to send
  if (peer.timers.send_keepalive == kNever)
    peer.timers.send_keepalive = now.mono + kKeepaliveTimeout;
  else
    peer.timers.need_another_keepalive = true;

  const uint8_t* src = nullptr;
  uint8_t family = 0;
  const size_t len = inner_packet_length(plain, &src, &family);
  if (len == 0) return drop(Drop::kMalformedInner);
  if (allowed_ips_.lookup(family, src) != &peer) return drop(Drop::kSourceNotAllowed);
  out.deliver(peer, plain.first(len));
}

void Core::update_endpoint(Peer& peer, const Endpoint& from, Output& out) {
  if (peer.endpoint == from) return;
  peer.endpoint = from;
  out.endpoint_changed(peer);
}

// ---------------------------------------------------------------------------------------------
// sessions

// Turns the completed handshake into a keypair under the handshake's index (WireGuard's rotation:
// an initiator uses it at once, a responder keeps it as `next` until the initiator's first packet).
void Core::begin_session(Peer& peer, const Now& now) {
  auto keys = derive_session(peer.handshake);
  if (!keys) return;
  auto kp = std::make_unique<Keypair>();
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
  peer.timers.zero_key_material = now.mono + 3 * kRejectAfterTime;
}

// The responder's `next` keypair is confirmed by the initiator's first packet on it.
void Core::rotate_on_confirmation(Peer& peer, Keypair&, const Now& now, Output& out) {
  replace_keypair(peer.previous, std::move(peer.current));
  peer.current = std::move(peer.next);
  handshake_complete(peer, now, out);
  send_staged(peer, now, out);
}

void Core::handshake_complete(Peer& peer, const Now& now, Output& out) {
  peer.timers.retransmit_handshake = kNever;
  peer.timers.handshake_attempts = 0;
  peer.timers.sent_last_minute_handshake = false;
  peer.last_handshake_wall = now.wall;
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
// sending

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
  out.send(peer.endpoint, Bytes(msg, sizeof msg));
  peer.tx_bytes += sizeof msg;
  peer.timers.send_keepalive = kNever;
  if (peer.persistent_keepalive_interval)
    peer.timers.persistent_keepalive = now.mono + Nanos(peer.persistent_keepalive_interval) * kSecond;
  peer.timers.retransmit_handshake = now.mono + kRekeyTimeout + jitter();
}

void Core::send(Bytes packet, const Now& now, Output& out) {
  const uint8_t version = packet.empty() ? 0 : packet[0] >> 4;
  Peer* peer = nullptr;
  if (version == 4 && packet.size() >= 20)
    peer = allowed_ips_.lookup_v4(packet.data() + 16);
  else if (version == 6 && packet.size() >= 40)
    peer = allowed_ips_.lookup_v6(packet.data() + 24);
  else
    return drop(Drop::kMalformedInner);
  if (!peer) return drop(Drop::kNoRoute);
  send_to(*peer, packet, now, out);
}

void Core::send_to(Peer& peer, Bytes packet, const Now& now, Output& out) {
  Keypair* kp = peer.current.get();
  if (peer.staged.empty() && kp && kp->can_send(now.mono) && peer.endpoint.valid()) {
    encrypt_and_send(peer, *kp, packet, now, out);
    keep_key_fresh_sending(peer, now, out);
    return;
  }
  if (peer.staged.size() >= kMaxStagedPackets) {
    peer.staged.pop_front();
    drop(Drop::kStagedOverflow);
  }
  peer.staged.emplace_back(packet.begin(), packet.end());
  send_staged(peer, now, out);
}

void Core::send_keepalive(Peer& peer, const Now& now, Output& out) {
  if (peer.staged.empty()) peer.staged.emplace_back();
  send_staged(peer, now, out);
}

void Core::send_staged(Peer& peer, const Now& now, Output& out) {
  Keypair* kp = peer.current.get();
  if (!kp || !kp->can_send(now.mono) || !peer.endpoint.valid()) {
    send_initiation(peer, now, out, false);
    return;
  }
  while (!peer.staged.empty()) {
    std::vector<uint8_t> packet = std::move(peer.staged.front());
    peer.staged.pop_front();
    encrypt_and_send(peer, *kp, packet, now, out);
  }
  keep_key_fresh_sending(peer, now, out);
}

void Core::encrypt_and_send(Peer& peer, Keypair& kp, Bytes packet, const Now& now, Output& out) {
  const uint64_t counter = kp.send_counter++;
  const size_t padded = padded_length(packet.size(), mtu_);
  tx_buffer_.resize(transport::kHeaderSize + padded + crypto::kAeadTagLen);
  uint8_t* d = tx_buffer_.data();
  write_header(d, MessageType::kTransport);
  store_le32(d + transport::kReceiver, kp.remote_index);
  store_le64(d + transport::kCounter, counter);
  uint8_t* body = d + transport::kHeaderSize;
  Bytes plain = packet;  // a full-size packet is sealed from where it lies, without a copy
  if (padded != packet.size()) {  // the padding is encrypted too: the packet moves in front of it
    if (!packet.empty()) std::memcpy(body, packet.data(), packet.size());
    std::memset(body + packet.size(), 0, padded - packet.size());
    plain = Bytes(body, padded);
  }
  const auto nonce = crypto::counter_nonce(counter);
  crypto::aead_seal(kp.send_key.data(), nonce.data(), plain, {}, body);

  out.send(peer.endpoint, Bytes(d, tx_buffer_.size()));
  peer.tx_bytes += tx_buffer_.size();
  // data sent: expect an answer within KEEPALIVE_TIMEOUT + REKEY_TIMEOUT, else start a handshake
  if (!packet.empty() && peer.timers.new_handshake == kNever)
    peer.timers.new_handshake = now.mono + kKeepaliveTimeout + kRekeyTimeout + jitter();
  peer.timers.send_keepalive = kNever;
  if (peer.persistent_keepalive_interval)
    peer.timers.persistent_keepalive = now.mono + Nanos(peer.persistent_keepalive_interval) * kSecond;
}

// ---------------------------------------------------------------------------------------------
// timers

Nanos Core::next_deadline() const {
  Nanos earliest = kNever;
  for (const auto& [order, peer] : peers_) earliest = std::min(earliest, peer->timers.earliest());
  return earliest;
}

void Core::tick(const Now& now, Output& out) {
  for (auto& [order, peer] : peers_)
    if (peer->timers.earliest() <= now.mono) fire_timers(*peer, now, out);
}

void Core::fire_timers(Peer& peer, const Now& now, Output& out) {
  PeerTimers& t = peer.timers;
  if (t.retransmit_handshake <= now.mono) {
    t.retransmit_handshake = kNever;
    if (t.handshake_attempts > kMaxTimerHandshakes) {
      // REKEY_ATTEMPT_TIME has passed: give up, drop what waited, and forget keys after a while.
      t.send_keepalive = kNever;
      for (size_t i = 0; i < peer.staged.size(); ++i) drop(Drop::kHandshakeFailed);
      peer.staged.clear();
      if (t.zero_key_material == kNever) t.zero_key_material = now.mono + 3 * kRejectAfterTime;
    } else {
      ++t.handshake_attempts;
      send_initiation(peer, now, out, true);
    }
  }
  if (t.send_keepalive <= now.mono) {
    t.send_keepalive = kNever;
    send_keepalive(peer, now, out);
    if (t.need_another_keepalive) {
      t.need_another_keepalive = false;
      t.send_keepalive = now.mono + kKeepaliveTimeout;
    }
  }
  if (t.new_handshake <= now.mono) {
    t.new_handshake = kNever;
    send_initiation(peer, now, out, false);
  }
  if (t.zero_key_material <= now.mono) {
    t.zero_key_material = kNever;
    clear_sessions(peer);
    for (size_t i = 0; i < peer.staged.size(); ++i) drop(Drop::kHandshakeFailed);
    peer.staged.clear();
  }
  if (t.persistent_keepalive <= now.mono) {
    t.persistent_keepalive = kNever;
    if (peer.persistent_keepalive_interval) send_keepalive(peer, now, out);
  }
}

uint64_t Core::total_drops() const {
  uint64_t sum = 0;
  for (uint64_t d : drops_) sum += d;
  return sum;
}

}  // namespace wgvm::protocol
