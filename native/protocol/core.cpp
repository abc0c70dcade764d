// The core's state: configuration, peers, the index table and keypair slots, and the dispatch of
// datagrams by type. Handshakes, transport data and timers are in core_handshake.cpp,
// core_transport.cpp and core_timers.cpp.
#include "protocol/core.h"

#include <cstring>

#include "protocol/messages.h"

namespace wgvm::protocol {

using crypto::Key;

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
  unschedule(peer);
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
    timers_persistent_keepalive_off(peer);
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

// ---------------------------------------------------------------------------------------------
// what every authenticated datagram does

void Core::send_authenticated(Peer& peer, Bytes datagram, const Now& now, Output& out) {
  out.send(peer.endpoint, datagram);
  sent_authenticated(peer, datagram.size(), now);
}

void Core::sent_authenticated(Peer& peer, size_t datagram_size, const Now& now) {
  peer.tx_bytes += datagram_size;
  timers_any_authenticated_packet_sent(peer);
  timers_any_authenticated_packet_traversal(peer, now);
}

void Core::update_endpoint(Peer& peer, const Endpoint& from, Output& out) {
  if (peer.endpoint == from) return;
  peer.endpoint = from;
  out.endpoint_changed(peer);
}

uint64_t Core::total_drops() const {
  uint64_t sum = 0;
  for (uint64_t d : drops_) sum += d;
  return sum;
}

}  // namespace wgvm::protocol
