// The transport side of the core: decrypting and delivering data, routing packets from the tunnel,
// staging them while a handshake is under way, and padding and encrypting them.
#include "protocol/core.h"
#include "protocol/ip_header.h"
#include "protocol/messages.h"

namespace wgvm::protocol {
namespace {

constexpr size_t kPaddingMultiple = 16;

// WireGuard pads the plaintext to a multiple of 16 bytes, but never past the MTU.
size_t padded_length(size_t len, size_t mtu) {
  size_t last_unit = len;
  if (mtu != 0 && last_unit > mtu) last_unit %= mtu;
  size_t padded = (last_unit + kPaddingMultiple - 1) & ~(kPaddingMultiple - 1);
  if (mtu != 0 && padded > mtu) padded = mtu;
  return len + (padded - last_unit);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// receiving

void Core::handle_transport(Bytes d, const Endpoint& from, const Now& now, Output& out) {
  rx_buffer_.resize(d.size());
  OpenJob job;
  if (!check_transport(d, from, now, rx_buffer_.data(), job)) return;
  job.run();
  finish_transport(job, now, out);
}

bool Core::check_transport(Bytes d, const Endpoint& from, const Now& now, uint8_t* plain, OpenJob& job) {
  auto it = index_table_.find(load_le32(d.data() + transport::kReceiver));
  if (it == index_table_.end() || it->second.keypair == nullptr) return rejected(Drop::kUnknownIndex);
  const Keypair& kp = *it->second.keypair;
  const uint64_t counter = load_le64(d.data() + transport::kCounter);
  if (!kp.can_receive(now.mono) || counter >= kRejectAfterMessages) return rejected(Drop::kExpiredKeypair);
  if (!kp.replay.would_accept(counter)) return rejected(Drop::kReplay);
  job.key = kp.receive_key;
  job.keypair_id = kp.id;
  job.receiver = kp.local_index;
  job.counter = counter;
  job.sealed = d.data() + transport::kHeaderSize;
  job.sealed_size = d.size() - transport::kHeaderSize;
  job.plain = plain;
  job.datagram_size = d.size();
  job.from = from;
  job.opened = false;
  return true;
}

void Core::finish_transport(const OpenJob& job, const Now& now, Output& out) {
  if (!job.opened) return drop(Drop::kDecrypt);
  // While the job ran, the keypair may have been replaced or erased (and its index taken again).
  auto it = index_table_.find(job.receiver);
  if (it == index_table_.end() || it->second.keypair == nullptr || it->second.keypair->id != job.keypair_id)
    return drop(Drop::kUnknownIndex);
  Peer& peer = *it->second.peer;
  Keypair& kp = *it->second.keypair;
  // Checked once before the job ran; this time it counts (a duplicate may have come in between).
  if (!kp.replay.accept(job.counter)) return drop(Drop::kReplay);
  const Bytes plain = job.plaintext();

  update_endpoint(peer, job.from, out);
  if (&kp == peer.next.get()) rotate_on_confirmation(peer, now, out);
  keep_key_fresh_receiving(peer, now, out);
  timers_any_authenticated_packet_traversal(peer, now);
  // After the rotation above, whose staged data may have armed the new-handshake timer.
  timers_any_authenticated_packet_received(peer);
  peer.rx_bytes += job.datagram_size;
  if (plain.empty()) return;  // a keepalive

  timers_data_received(peer, now);
  // The payload is an IP packet, then WireGuard's padding.
  const auto inner = IpHeader::parse(plain);
  if (!inner || !inner->total_length_fits()) return drop(Drop::kMalformedInner);
  if (allowed_ips_.lookup(inner->version(), inner->source()) != &peer) return drop(Drop::kSourceNotAllowed);
  out.deliver(peer, plain.first(inner->total_length()));
}

// ---------------------------------------------------------------------------------------------
// sending

void Core::send(Bytes packet, const Now& now, Output& out) {
  const auto ip = IpHeader::parse(packet);
  if (!ip) return drop(Drop::kMalformedInner);
  Peer* peer = allowed_ips_.lookup(ip->version(), ip->destination());
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

void Core::discard_staged(Peer& peer) {
  for (size_t i = 0; i < peer.staged.size(); ++i) drop(Drop::kHandshakeFailed);
  peer.staged.clear();
}

void Core::encrypt_and_send(Peer& peer, Keypair& kp, Bytes packet, const Now& now, Output& out) {
  const OutgoingTransport t{kp.send_key, kp.remote_index, kp.send_counter++, packet,
                            padded_length(packet.size(), mtu_) - packet.size()};
  out.send_transport(peer.endpoint, t);
  sent_authenticated(peer, t.size(), now);
  if (!packet.empty()) timers_data_sent(peer, now);  // a keepalive is no data
}

}  // namespace wgvm::protocol
