// The sans-IO WireGuard engine of one interface: identity, peers, the index table, the allowed-IPs
// trie and the cookie machinery. Every entry point takes bytes and the current time and reports what
// to do through an Output; it never touches a socket, a thread or a clock. Not thread-safe: the
// caller serialises calls.
#pragma once

#include <map>
#include <set>
#include <memory>
#include <unordered_map>

#include "protocol/cookie.h"
#include "protocol/load_detector.h"
#include "protocol/peer.h"
#include "protocol/rate_limiter.h"
#include "protocol/transport_crypto.h"
#include "routing/allowed_ips.h"

namespace wgvm::protocol {

struct Now {
  Nanos mono;  // monotonic: timers and ages
  Nanos wall;  // since the Unix epoch: TAI64N timestamps and the last-handshake time users see
};

// Why a datagram or packet was dropped. Counted per reason; never a crash, never a state change.
enum class Drop : uint8_t {
  kTooShort,            // shorter than any message
  kUnknownType,         // type field (with its reserved bytes) is not 1..4
  kBadSize,             // wrong size for its type
  kNoPrivateKey,        // handshake arrived before a private key was configured
  kBadMac1,
  kCookieSent,          // under load and mac2 missing or stale: answered with a cookie instead
  kRateLimited,
  kHandshakeBudget,     // under load, all sources together used up the Diffie-Hellman budget (LoadDetector)
  kHandshakeDecrypt,    // does not decrypt, or a DH result was all zeros
  kUnknownPeer,         // an initiation from a static key that is not configured
  kTimestampReplay,     // initiation timestamp not newer than the last
  kInitiationFlood,     // initiations from one peer faster than 50 per second
  kUnexpectedResponse,  // response or cookie for no handshake of ours
  kBadCookie,
  kUnknownIndex,        // transport data for no live keypair
  kExpiredKeypair,
  kReplay,
  kDecrypt,
  kMalformedInner,      // decrypted packet is not a well-formed IPv4/IPv6 packet
  kSourceNotAllowed,    // inner source address does not route back to the sending peer
  kNoRoute,             // packet from the tunnel to no peer's allowed IPs
  kNoEndpoint,          // nowhere to send: the peer has no endpoint yet
  kStagedOverflow,      // the queue of packets waiting for a handshake was full
  kHandshakeFailed,     // gave up after REKEY_ATTEMPT_TIME: queued packets discarded
  kCount
};
const char* drop_name(Drop);

class Output {
 public:
  virtual ~Output() = default;
  virtual void send(const Endpoint& to, Bytes datagram) = 0;
  // A transport datagram still to be sealed. An output may lay it out now and seal it later (on
  // another thread, see seal_transport), as long as it is sealed before it leaves; this one seals at once.
  virtual void send_transport(const Endpoint& to, const OutgoingTransport& t) {
    buffer_.resize(t.size());
    t.write(buffer_.data());
    seal_transport(t.key, buffer_);
    send(to, buffer_);
  }
  // A decrypted packet, checked against the sending peer's allowed IPs, for the tunnel.
  virtual void deliver(Peer& from, Bytes ip_packet) = 0;
  virtual void handshake_completed(Peer&) {}
  virtual void endpoint_changed(Peer&) {}

 private:
  std::vector<uint8_t> buffer_;
};

class Core {
 public:
  explicit Core(Random& rng) : rng_(rng), rate_limiter_(rng) {}
  ~Core();
  Core(const Core&) = delete;
  Core& operator=(const Core&) = delete;

  // --- configuration
  // Setting the key a device already has changes nothing (so `wg syncconf` keeps sessions).
  void set_private_key(const crypto::Key& private_key);
  void clear_private_key();
  const Identity& identity() const { return identity_; }

  Peer& add_peer(const crypto::Key& public_key);  // the existing peer if already there
  Peer* find_peer(const crypto::Key& public_key);
  void remove_peer(Peer&);
  void remove_all_peers();
  template <typename F>
  void for_each_peer(F&& f) {
    for (auto& [order, peer] : peers_) f(*peer);
  }
  size_t peer_count() const { return peers_.size(); }

  void set_preshared_key(Peer&, const crypto::Key& psk);
  // With an interval and an endpoint, a keepalive goes out at once, as `wg set` does.
  void set_persistent_keepalive(Peer&, uint16_t seconds, const Now&, Output&);
  routing::AllowedIps<Peer>& allowed_ips() { return allowed_ips_; }

  void set_mtu(size_t mtu) { mtu_ = mtu; }
  size_t mtu() const { return mtu_; }

  // --- packets
  void receive(Bytes datagram, const Endpoint& from, const Now&, Output&);
  // Transport data in two steps, so that the opening, the costly part, can run elsewhere and in
  // parallel (receive() does all three at once): check_transport() admits a datagram as a job (or
  // drops it, counted), the caller runs the job, and finish_transport() takes the jobs back in the
  // order the datagrams came. The plaintext goes to `plain` (datagram.size() - 32 bytes, may alias
  // the ciphertext). Other messages, and transport datagrams too short to check, go to receive().
  bool check_transport(Bytes datagram, const Endpoint& from, const Now&, uint8_t* plain, OpenJob&);
  void finish_transport(const OpenJob&, const Now&, Output&);
  // A packet from the tunnel, routed by its destination address.
  void send(Bytes ip_packet, const Now&, Output&);
  void send_to(Peer&, Bytes ip_packet, const Now&, Output&);
  // Fires due timers; call at least as often as next_deadline() says.
  void tick(const Now&, Output&);
  Nanos next_deadline() const;
  // Starts a handshake now unless one was sent within REKEY_TIMEOUT.
  void initiate_handshake(Peer&, const Now&, Output&) ;

  // --- load (see LoadDetector): the I/O layer reports how many handshake messages wait to be processed
  void set_handshake_backlog(size_t queued, Nanos now) { load_.backlog(queued, now); }
  bool under_load(Nanos now) const { return load_.under_load(now); }
  // Handshake messages admitted past the DoS checks (mac1; under load also mac2, the rate limit and
  // the budget): the ones that may go on to cost Diffie-Hellman.
  uint64_t handshakes_admitted() const { return handshakes_admitted_; }

  uint64_t drops(Drop d) const { return drops_[static_cast<size_t>(d)]; }
  uint64_t total_drops() const;
  size_t index_count() const { return index_table_.size(); }

 private:
  struct IndexEntry {
    Peer* peer;
    Keypair* keypair;  // null: the index of a handshake in progress
  };

  void drop(Drop d) { ++drops_[static_cast<size_t>(d)]; }
  bool rejected(Drop d) { return drop(d), false; }

  // --- handshake messages (core_handshake.cpp)
  bool admit_handshake(const uint8_t* msg, size_t size, const Endpoint& from, const Now&, Output&);
  void handle_initiation(const uint8_t* msg, const Endpoint& from, const Now&, Output&);
  void handle_response(const uint8_t* msg, const Endpoint& from, const Now&, Output&);
  void handle_cookie_reply(const uint8_t* msg, const Now&);
  void handshake_message_accepted(Peer&, size_t size, const Endpoint& from, const Now&, Output&);
  void send_initiation(Peer&, const Now&, Output&, bool is_retry);
  void begin_session(Peer&, const Now&);
  void rotate_on_confirmation(Peer&, const Now&, Output&);
  void handshake_complete(Peer&, const Now&, Output&);
  void keep_key_fresh_sending(Peer&, const Now&, Output&);
  void keep_key_fresh_receiving(Peer&, const Now&, Output&);

  // --- transport data (core_transport.cpp)
  void handle_transport(Bytes datagram, const Endpoint& from, const Now&, Output&);
  void send_keepalive(Peer&, const Now&, Output&);
  void send_staged(Peer&, const Now&, Output&);
  void discard_staged(Peer&);  // counted as kHandshakeFailed
  void encrypt_and_send(Peer&, Keypair&, Bytes packet, const Now&, Output&);

  // --- timers (core_timers.cpp): wireguard-go's timer events, each named once. These and the
  // expiry handlers are the only code that sets or clears a deadline in PeerTimers.
  void timers_data_sent(Peer&, const Now&);
  void timers_data_received(Peer&, const Now&);
  void timers_any_authenticated_packet_sent(Peer&);
  void timers_any_authenticated_packet_received(Peer&);
  void timers_any_authenticated_packet_traversal(Peer&, const Now&);
  void timers_handshake_initiated(Peer&, const Now&);
  void timers_handshake_complete(Peer&, const Now&);
  void timers_session_derived(Peer&, const Now&);
  void timers_persistent_keepalive_off(Peer&);
  void schedule(Peer&);
  void unschedule(Peer&);
  void fire_timers(Peer&, const Now&, Output&);
  void expired_retransmit_handshake(Peer&, const Now&, Output&);
  void expired_send_keepalive(Peer&, const Now&, Output&);
  void expired_new_handshake(Peer&, const Now&, Output&);
  void expired_zero_key_material(Peer&);
  void expired_persistent_keepalive(Peer&, const Now&, Output&);

  // --- what every path shares (core.cpp)
  // Every authenticated datagram to a peer is counted by sent_authenticated(): handshake messages
  // leave through send_authenticated(), transport data through Output::send_transport.
  void send_authenticated(Peer&, Bytes datagram, const Now&, Output&);
  void sent_authenticated(Peer&, size_t datagram_size, const Now&);
  void update_endpoint(Peer&, const Endpoint&, Output&);
  void expire_sessions(Peer&);  // current keys stop sending; the handshake is forgotten
  void clear_sessions(Peer&);   // every keypair and the handshake are erased

  uint32_t allocate_index(Peer&, Keypair*);
  void release_index(uint32_t index);
  void release_handshake_index(Peer&);
  void replace_keypair(std::unique_ptr<Keypair>& slot, std::unique_ptr<Keypair> with);

  Nanos jitter() { return static_cast<Nanos>(rng_.u32() % static_cast<uint32_t>(kRekeyTimeoutJitterMax)); }

  Random& rng_;
  Identity identity_;
  std::map<uint64_t, std::unique_ptr<Peer>> peers_;  // in the order they were added
  // Peers with a deadline, by when to look at them (Peer::scheduled) and then by order: what tick()
  // and next_deadline() read, so that idle peers cost a turn nothing.
  std::set<std::pair<Nanos, uint64_t>> schedule_;
  std::vector<uint64_t> due_;  // tick()'s scratch list, kept to spare an allocation per turn
  struct KeyHash {
    size_t operator()(const crypto::Key& k) const noexcept;
  };
  std::unordered_map<crypto::Key, Peer*, KeyHash> peers_by_key_;
  uint64_t next_order_ = 0;
  std::unordered_map<uint32_t, IndexEntry> index_table_;
  routing::AllowedIps<Peer> allowed_ips_;
  CookieChecker cookie_checker_;
  RateLimiter rate_limiter_;
  LoadDetector load_;
  uint64_t handshakes_admitted_ = 0;
  size_t mtu_ = 1420;
  uint64_t next_keypair_id_ = 0;
  std::vector<uint8_t> rx_buffer_;  // receive()'s plaintext
  uint64_t drops_[static_cast<size_t>(Drop::kCount)] = {};
};

}  // namespace wgvm::protocol
