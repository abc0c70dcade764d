// WireGuard's per-peer timers (the WireGuard paper §6), as wireguard-go's timers.go names them:
// each event that moves a deadline is one function here, called from the packet paths, and each
// deadline's expiry is one handler. Nothing outside this file sets or clears a deadline.
//
// The schedule: each peer with a deadline has one entry in schedule_, at Peer::scheduled, which is
// never later than its earliest deadline. An event that arms a deadline earlier than that moves the
// entry; one that clears a deadline or pushes it later (most of them, once per packet) leaves the
// entry where it is, and tick() looks at the peer then, fires nothing, and files it again at its
// real earliest deadline. So a turn costs O(due peers · log peers), whatever the number of idle ones.
#include <algorithm>

#include "protocol/core.h"

namespace wgvm::protocol {
namespace {

// Clears a deadline that has passed and says so.
bool take_expired(Nanos& deadline, Nanos now) {
  if (deadline > now) return false;
  deadline = kNever;
  return true;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// events

// Data sent: expect an answer within KEEPALIVE_TIMEOUT + REKEY_TIMEOUT, else start a handshake.
void Core::timers_data_sent(Peer& peer, const Now& now) {
  if (peer.timers.new_handshake == kNever) {
    peer.timers.new_handshake = now.mono + kKeepaliveTimeout + kRekeyTimeout + jitter();
    schedule(peer);
  }
}

// Data received: answer within KEEPALIVE_TIMEOUT if we have nothing else to send.
void Core::timers_data_received(Peer& peer, const Now& now) {
  if (peer.timers.send_keepalive == kNever) {
    peer.timers.send_keepalive = now.mono + kKeepaliveTimeout;
    schedule(peer);
  } else {
    peer.timers.need_another_keepalive = true;
  }
}

// Any authenticated packet sent (handshake, data or keepalive) is an answer: no keepalive needed.
void Core::timers_any_authenticated_packet_sent(Peer& peer) { peer.timers.send_keepalive = kNever; }

// Any authenticated packet received (handshake, data or keepalive) shows the peer is there.
void Core::timers_any_authenticated_packet_received(Peer& peer) { peer.timers.new_handshake = kNever; }

// Any authenticated packet sent or received restarts the persistent keepalive's interval.
void Core::timers_any_authenticated_packet_traversal(Peer& peer, const Now& now) {
  if (peer.persistent_keepalive_interval) {
    peer.timers.persistent_keepalive = now.mono + Nanos(peer.persistent_keepalive_interval) * kSecond;
    schedule(peer);
  }
}

// An initiation sent: retry after REKEY_TIMEOUT + jitter unless a response completes it.
void Core::timers_handshake_initiated(Peer& peer, const Now& now) {
  peer.timers.retransmit_handshake = now.mono + kRekeyTimeout + jitter();
  schedule(peer);
}

// A response consumed, or the initiator's first data on a responder's new keypair.
void Core::timers_handshake_complete(Peer& peer, const Now& now) {
  peer.timers.retransmit_handshake = kNever;
  peer.timers.handshake_attempts = 0;
  peer.timers.sent_last_minute_handshake = false;
  peer.last_handshake_wall = now.wall;
}

// New session keys: all key material goes after 3 × REJECT_AFTER_TIME without another.
void Core::timers_session_derived(Peer& peer, const Now& now) {
  peer.timers.zero_key_material = now.mono + 3 * kRejectAfterTime;
  schedule(peer);
}

void Core::timers_persistent_keepalive_off(Peer& peer) { peer.timers.persistent_keepalive = kNever; }

// ---------------------------------------------------------------------------------------------
// expiry

// Files the peer at its earliest deadline if that is earlier than where it is filed now.
void Core::schedule(Peer& peer) {
  const Nanos earliest = peer.timers.earliest();
  if (earliest >= peer.scheduled) return;
  unschedule(peer);
  schedule_.emplace(earliest, peer.order);
  peer.scheduled = earliest;
}

void Core::unschedule(Peer& peer) {
  if (peer.scheduled == kNever) return;
  schedule_.erase({peer.scheduled, peer.order});
  peer.scheduled = kNever;
}

Nanos Core::next_deadline() const { return schedule_.empty() ? kNever : schedule_.begin()->first; }

void Core::tick(const Now& now, Output& out) {
  due_.clear();
  while (!schedule_.empty() && schedule_.begin()->first <= now.mono) {
    const uint64_t order = schedule_.begin()->second;
    schedule_.erase(schedule_.begin());
    peers_.at(order)->scheduled = kNever;
    due_.push_back(order);
  }
  // In the order the peers were added, as a walk over all of them would fire them.
  std::sort(due_.begin(), due_.end());
  for (uint64_t order : due_) {
    Peer& peer = *peers_.at(order);
    fire_timers(peer, now, out);
    // Filed again at its real earliest deadline: a handler's event may have filed it at one that
    // fire_timers went on to take.
    unschedule(peer);
    schedule(peer);
  }
}

// In this order; a handler may arm or clear a deadline checked after it.
void Core::fire_timers(Peer& peer, const Now& now, Output& out) {
  PeerTimers& t = peer.timers;
  if (take_expired(t.retransmit_handshake, now.mono)) expired_retransmit_handshake(peer, now, out);
  if (take_expired(t.send_keepalive, now.mono)) expired_send_keepalive(peer, now, out);
  if (take_expired(t.new_handshake, now.mono)) expired_new_handshake(peer, now, out);
  if (take_expired(t.zero_key_material, now.mono)) expired_zero_key_material(peer);
  if (take_expired(t.persistent_keepalive, now.mono)) expired_persistent_keepalive(peer, now, out);
}

void Core::expired_retransmit_handshake(Peer& peer, const Now& now, Output& out) {
  PeerTimers& t = peer.timers;
  if (t.handshake_attempts <= kMaxTimerHandshakes) {
    ++t.handshake_attempts;
    send_initiation(peer, now, out, true);
    return;
  }
  // REKEY_ATTEMPT_TIME has passed: give up, drop what waited, and forget keys after a while.
  t.send_keepalive = kNever;
  discard_staged(peer);
  if (t.zero_key_material == kNever) t.zero_key_material = now.mono + 3 * kRejectAfterTime;
}

void Core::expired_send_keepalive(Peer& peer, const Now& now, Output& out) {
  send_keepalive(peer, now, out);
  if (peer.timers.need_another_keepalive) {
    peer.timers.need_another_keepalive = false;
    peer.timers.send_keepalive = now.mono + kKeepaliveTimeout;
  }
}

// Data went out and nothing came back within KEEPALIVE_TIMEOUT + REKEY_TIMEOUT.
void Core::expired_new_handshake(Peer& peer, const Now& now, Output& out) { send_initiation(peer, now, out, false); }

void Core::expired_zero_key_material(Peer& peer) {
  clear_sessions(peer);
  discard_staged(peer);
}

void Core::expired_persistent_keepalive(Peer& peer, const Now& now, Output& out) {
  if (peer.persistent_keepalive_interval) send_keepalive(peer, now, out);
}

}  // namespace wgvm::protocol
