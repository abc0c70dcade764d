// The world the protocol-core fuzz target feeds datagrams into, shared with the seed generator so
// that the seeds it writes (a real initiation, response, cookie reply, transport packet) are valid
// for exactly the state the target rebuilds for every input.
//
// Input layout: byte 0 picks the mode, byte 1 holds flags, the rest is the payload.
//   mode 0      the payload as a raw datagram to B, untouched
//   mode 1..4   the payload as a message of that type to B; the header is rewritten, handshake
//               messages get their exact size and a correct mac1, and with kFixIndex the receiver
//               index names a live one of B's, so mutations get past the cheap checks
//   mode 5      the payload as an inner IP packet that A encrypts to B (reaches decryption, the
//               inner-packet checks and the allowed-IPs source check)
//   mode 6      a sequence of records [length][target][bytes…] fed in turn to B or to A, with the
//               clock moving and timers firing between them (stateful paths: rekeys, retries)
#pragma once

#include <cstring>
#include <memory>
#include <optional>
#include <vector>

#include "../../test/cpp/two_peers.h"

namespace wgvm::fuzz {

using namespace wgvm::protocol;
using wgvm::test::Datagram;
using wgvm::test::TwoPeers;
using wgvm::Bytes;

enum Mode : uint8_t { kRaw = 0, kInitiation = 1, kResponse = 2, kCookie = 3, kTransport = 4, kSealed = 5, kSequence = 6, kModeCount = 7 };

// Flags (byte 1)
constexpr uint8_t kSession = 1;     // A and B complete a handshake and a data packet first (B has a live keypair)
constexpr uint8_t kBInitiates = 2;  // B has sent an initiation to A (B has a handshake index waiting for a response)
constexpr uint8_t kUnderLoad = 4;   // B believes it is under load: handshakes need mac2, else a cookie reply
constexpr uint8_t kFixIndex = 8;    // modes 2..4: the receiver index is set to one of B's live indices

// Datagrams reach B this long after the world was set up (past REKEY_TIMEOUT, so a fresh
// initiation from A carries a newer timestamp and may be sent at all).
constexpr Nanos kFeedDelay = 10 * kSecond;

struct World {
  std::unique_ptr<TwoPeers> w = std::make_unique<TwoPeers>();
  uint32_t b_keypair_index = 0;    // B's index of its live keypair (kSession)
  uint32_t b_handshake_index = 0;  // B's index of its initiation in flight (kBInitiates)
  std::vector<uint8_t> b_initiation;

  explicit World(uint8_t flags) {
    TwoPeers& t = *w;
    t.a_on_b->endpoint = t.a.endpoint;  // so that B can initiate, and answers go somewhere
    t.b.core.allowed_ips().insert(*routing::parse_prefix("fd00::1/128"), t.a_on_b);
    t.a.core.allowed_ips().insert(*routing::parse_prefix("fd00::2/128"), t.b_on_a);
    if (flags & kSession) {
      t.a_sends();
      Datagram init = pop(t.a.out);
      t.b.core.receive(init.bytes, t.a.endpoint, t.now, t.b.out);
      Datagram resp = pop(t.b.out);
      b_keypair_index = load_le32(resp.bytes.data() + response::kSender);
      t.a.core.receive(resp.bytes, t.b.endpoint, t.now, t.a.out);
      t.exchange();  // A's staged data confirms the session on B
    }
    t.skip(kFeedDelay);
    if (flags & kBInitiates) {
      t.b.core.initiate_handshake(*t.a_on_b, t.now, t.b.out);
      b_initiation = pop(t.b.out).bytes;
      b_handshake_index = load_le32(b_initiation.data() + initiation::kSender);
    }
    t.b.out.sent.clear();
    t.a.out.sent.clear();
    if (flags & kUnderLoad) t.b.core.set_handshake_backlog(4096, t.now.mono);
  }

  static Datagram pop(wgvm::test::Recorder& r) {
    Datagram d = std::move(r.sent.front());
    r.sent.pop_front();
    return d;
  }

  // Rewrites msg's mac1 as A would for B (mac2 is kept as the input has it).
  void fix_mac1(std::vector<uint8_t>& msg) const {
    const size_t mac2_at = msg.size() - kMacSize;
    uint8_t mac2[kMacSize];
    std::memcpy(mac2, msg.data() + mac2_at, kMacSize);
    CookieGenerator fresh;
    fresh.add_macs(w->b_on_a->statics.mac1_key, msg.data(), msg.size(), w->now.mono);
    std::memcpy(msg.data() + mac2_at, mac2, kMacSize);
  }

  // Shapes a payload into a message of the mode's type (see the layout above).
  std::vector<uint8_t> shape(Mode mode, uint8_t flags, const uint8_t* data, size_t size) const {
    std::vector<uint8_t> msg(data, data + size);
    size_t exact = 0;
    if (mode == kInitiation) exact = initiation::kSize;
    if (mode == kResponse) exact = response::kSize;
    if (mode == kCookie) exact = cookie_reply::kSize;
    if (exact) msg.resize(exact);
    if (mode == kTransport && msg.size() < transport::kMinSize) msg.resize(transport::kMinSize);
    write_header(msg.data(), static_cast<MessageType>(mode));
    if (flags & kFixIndex) {
      if (mode == kResponse) store_le32(msg.data() + response::kReceiver, b_handshake_index);
      if (mode == kCookie) store_le32(msg.data() + cookie_reply::kReceiver, b_handshake_index);
      if (mode == kTransport) store_le32(msg.data() + transport::kReceiver, b_keypair_index);
    }
    if (mode == kInitiation || mode == kResponse) fix_mac1(msg);
    return msg;
  }
};

}  // namespace wgvm::fuzz
