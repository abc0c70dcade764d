// Malformed, forged and misrouted input: every datagram or packet the core refuses is dropped,
// counted under the reason that names what was wrong with it, and changes nothing a user could see —
// no datagram goes out, no index, keypair or handshake changes, nothing reaches the tunnel.
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "harness.h"
#include "two_peers.h"

using namespace wgvm;
using namespace wgvm::test;

namespace {

Datagram pop(std::deque<Datagram>& q) {
  Datagram d = std::move(q.front());
  q.pop_front();
  return d;
}

void skip(TwoPeers& w, Nanos dt) {
  w.now.mono += dt;
  w.now.wall += dt;
}

// What a node shows about itself and one of its peers: anything that must not move on bad input.
struct Snapshot {
  size_t indices, sent, delivered, staged;
  int handshakes, endpoint_changes;
  const Keypair *current, *previous, *next;
  uint32_t current_index, next_index;
  uint64_t current_highest, current_send_counter;
  HandshakeStage stage;
  uint32_t handshake_index, handshake_remote;
  Timestamp latest_timestamp;
  Endpoint endpoint;
  uint64_t rx, tx;
  Nanos retransmit, keepalive, new_handshake, zero_keys;
  Nanos last_handshake;
};

Snapshot snapshot(Node& n, Peer& p) {
  Snapshot s{};
  s.indices = n.core.index_count();
  s.sent = n.out.sent.size();
  s.delivered = n.out.delivered.size();
  s.staged = p.staged.size();
  s.handshakes = n.out.handshakes;
  s.endpoint_changes = n.out.endpoint_changes;
  s.current = p.current.get();
  s.previous = p.previous.get();
  s.next = p.next.get();
  s.current_index = p.current ? p.current->local_index : 0;
  s.next_index = p.next ? p.next->local_index : 0;
  s.current_highest = p.current ? p.current->replay.highest() : 0;
  s.current_send_counter = p.current ? p.current->send_counter : 0;
  s.stage = p.handshake.stage;
  s.handshake_index = p.handshake.local_index;
  s.handshake_remote = p.handshake.remote_index;
  s.latest_timestamp = p.handshake.latest_timestamp;
  s.endpoint = p.endpoint;
  s.rx = p.rx_bytes;
  s.tx = p.tx_bytes;
  s.retransmit = p.timers.retransmit_handshake;
  s.keepalive = p.timers.send_keepalive;
  s.new_handshake = p.timers.new_handshake;
  s.zero_keys = p.timers.zero_key_material;
  s.last_handshake = p.last_handshake_wall;
  return s;
}

// The names of the fields that differ, "" when none.
std::string changes(const Snapshot& a, const Snapshot& b) {
  std::string out;
  auto note = [&](bool same, const char* name) {
    if (!same) out += (out.empty() ? "" : " ") + std::string(name);
  };
  note(a.indices == b.indices, "index_count");
  note(a.sent == b.sent, "sent");
  note(a.delivered == b.delivered, "delivered");
  note(a.staged == b.staged, "staged");
  note(a.handshakes == b.handshakes, "handshakes");
  note(a.endpoint_changes == b.endpoint_changes, "endpoint_changes");
  note(a.current == b.current && a.previous == b.previous && a.next == b.next, "keypairs");
  note(a.current_index == b.current_index && a.next_index == b.next_index, "keypair_indices");
  note(a.current_highest == b.current_highest, "replay_window");
  note(a.current_send_counter == b.current_send_counter, "send_counter");
  note(a.stage == b.stage, "handshake_stage");
  note(a.handshake_index == b.handshake_index && a.handshake_remote == b.handshake_remote, "handshake_indices");
  note(a.latest_timestamp == b.latest_timestamp, "latest_timestamp");
  note(a.endpoint == b.endpoint, "endpoint");
  note(a.rx == b.rx && a.tx == b.tx, "byte_counters");
  note(a.retransmit == b.retransmit && a.keepalive == b.keepalive && a.new_handshake == b.new_handshake &&
           a.zero_keys == b.zero_keys,
       "timers");
  note(a.last_handshake == b.last_handshake, "last_handshake");
  return out;
}

#define CHECK_UNCHANGED(before, node, peer) CHECK_EQ(changes(before, snapshot(node, peer)), std::string())

// The drop counters that grew since `before`, by name ("bad_size", "decrypt x2"), "" for none.
std::string grown(const Core& core, const std::vector<uint64_t>& before) {
  std::string out;
  for (size_t i = 0; i < static_cast<size_t>(Drop::kCount); ++i) {
    const uint64_t now = core.drops(static_cast<Drop>(i));
    if (now == before[i]) continue;
    if (!out.empty()) out += ' ';
    out += drop_name(static_cast<Drop>(i));
    if (now - before[i] != 1) out += " x" + std::to_string(now - before[i]);
  }
  return out;
}

std::vector<uint64_t> counters(const Core& core) {
  std::vector<uint64_t> c;
  for (size_t i = 0; i < static_cast<size_t>(Drop::kCount); ++i) c.push_back(core.drops(static_cast<Drop>(i)));
  return c;
}

// Delivers a datagram and names the drops it caused.
std::string receive_drops(Node& n, const std::vector<uint8_t>& d, const Endpoint& from, const Now& now) {
  const auto before = counters(n.core);
  n.core.receive(d, from, now, n.out);
  return grown(n.core, before);
}

// Hands a packet to the core from the tunnel (routed by destination) and names the drops it caused.
std::string tunnel_drops(Node& n, const std::vector<uint8_t>& packet, const Now& now) {
  const auto before = counters(n.core);
  n.core.send(packet, now, n.out);
  return grown(n.core, before);
}

std::string labelled(const std::string& label, const std::string& what) { return label + ": " + what; }

// A and B with a confirmed session both ways, and the messages that made it.
struct Established {
  TwoPeers w;
  std::vector<uint8_t> initiation, response, first_data;

  Established() {
    w.a_sends();
    initiation = pop(w.a.out.sent).bytes;
    w.b.core.receive(initiation, w.a.endpoint, w.now, w.b.out);
    response = pop(w.b.out.sent).bytes;
    w.a.core.receive(response, w.b.endpoint, w.now, w.a.out);
    first_data = pop(w.a.out.sent).bytes;
    w.b.core.receive(first_data, w.a.endpoint, w.now, w.b.out);
    w.exchange();
  }
  bool ok() const {
    return w.a_on_b->current && w.b_on_a->current && w.b.out.delivered.size() == 1 && w.a.out.sent.empty() &&
           w.b.out.sent.empty() && w.a.core.total_drops() == 0 && w.b.core.total_drops() == 0;
  }
  // One transport message A → B carrying `packet` (not delivered).
  std::vector<uint8_t> a_to_b(const std::vector<uint8_t>& packet) {
    w.a.core.send(packet, w.now, w.a.out);
    return w.a.out.sent.empty() ? std::vector<uint8_t>{} : pop(w.a.out.sent).bytes;
  }
  std::vector<uint8_t> a_to_b_raw(const std::vector<uint8_t>& packet) {
    w.a.core.send_to(*w.b_on_a, packet, w.now, w.a.out);
    return w.a.out.sent.empty() ? std::vector<uint8_t>{} : pop(w.a.out.sent).bytes;
  }
};

}  // namespace

TEST(every_truncation_or_extension_of_a_message_is_dropped_by_size) {
  Established e;
  REQUIRE(e.ok());
  TwoPeers& w = e.w;
  // A starts a rekey: B gets a fresh initiation it would accept, A waits for the response.
  skip(w, 6 * kSecond);
  w.a.core.initiate_handshake(*w.b_on_a, w.now, w.a.out);
  REQUIRE(w.a.out.sent.size() == 1);
  const std::vector<uint8_t> initiation = pop(w.a.out.sent).bytes;

  const Snapshot b_before = snapshot(w.b, *w.a_on_b);
  int wrong = 0;
  for (size_t len = 0; len <= 149; ++len) {
    if (len == 148) continue;
    std::vector<uint8_t> d(initiation.begin(), initiation.begin() + std::min<size_t>(len, 148));
    d.resize(len, 0);
    const std::string expected = len < 4 ? "too_short" : "bad_size";
    const std::string got = receive_drops(w.b, d, w.a.endpoint, w.now);
    if (got != expected) ++wrong;
    CHECK_EQ(labelled("initiation of " + std::to_string(len), got),
             labelled("initiation of " + std::to_string(len), expected));
  }
  CHECK_EQ(wrong, 0);
  CHECK_EQ(w.b.core.drops(Drop::kTooShort), uint64_t(4));
  CHECK_EQ(w.b.core.drops(Drop::kBadSize), uint64_t(145));  // 4..147 and 149
  CHECK_EQ(w.b.core.total_drops(), uint64_t(149));
  CHECK_UNCHANGED(b_before, w.b, *w.a_on_b);

  // The real initiation is still fresh to B, and its response is what A waits for.
  w.b.core.receive(initiation, w.a.endpoint, w.now, w.b.out);
  REQUIRE(w.b.out.sent.size() == 1);
  const std::vector<uint8_t> response = pop(w.b.out.sent).bytes;
  REQUIRE(response.size() == 92);

  const Snapshot a_before = snapshot(w.a, *w.b_on_a);
  const uint64_t a_drops = w.a.core.total_drops();
  for (size_t len : {size_t(4), size_t(60), size_t(91), size_t(93), size_t(148)}) {
    std::vector<uint8_t> d(response.begin(), response.begin() + std::min<size_t>(len, 92));
    d.resize(len, 0);
    CHECK_EQ(labelled("response of " + std::to_string(len), receive_drops(w.a, d, w.b.endpoint, w.now)),
             labelled("response of " + std::to_string(len), "bad_size"));
  }
  // A cookie reply for A's handshake in progress, one byte short and one byte long.
  std::vector<uint8_t> cookie(64, 0x5a);
  write_header(cookie.data(), MessageType::kCookieReply);
  std::memcpy(cookie.data() + 4, initiation.data() + 4, 4);
  for (size_t len : {size_t(4), size_t(63), size_t(65)}) {
    std::vector<uint8_t> d(cookie.begin(), cookie.begin() + std::min<size_t>(len, 64));
    d.resize(len, 0x5a);
    CHECK_EQ(labelled("cookie reply of " + std::to_string(len), receive_drops(w.a, d, w.b.endpoint, w.now)),
             labelled("cookie reply of " + std::to_string(len), "bad_size"));
  }
  CHECK_EQ(w.a.core.total_drops() - a_drops, uint64_t(8));
  CHECK_UNCHANGED(a_before, w.a, *w.b_on_a);

  // Transport data shorter than a keepalive (header + tag = 32 bytes).
  const std::vector<uint8_t> data = e.a_to_b(ipv4_packet(kAddrA, kAddrB, 100));
  REQUIRE(data.size() == 144);
  const Snapshot b_mid = snapshot(w.b, *w.a_on_b);
  for (size_t len = 4; len <= 31; ++len) {
    std::vector<uint8_t> d(data.begin(), data.begin() + len);
    CHECK_EQ(labelled("transport of " + std::to_string(len), receive_drops(w.b, d, w.a.endpoint, w.now)),
             labelled("transport of " + std::to_string(len), "bad_size"));
  }
  CHECK_UNCHANGED(b_mid, w.b, *w.a_on_b);

  // The genuine messages still work: A completes its rekey, B gets the data.
  w.a.core.receive(response, w.b.endpoint, w.now, w.a.out);
  CHECK_EQ(w.a.out.handshakes, 2);
  w.b.core.receive(data, w.a.endpoint, w.now, w.b.out);
  CHECK_EQ(w.b.out.delivered.size(), size_t(2));
}

TEST(unknown_message_types_and_nonzero_reserved_bytes_are_dropped_as_unknown_type) {
  Established e;
  REQUIRE(e.ok());
  TwoPeers& w = e.w;
  skip(w, 6 * kSecond);
  w.a.core.initiate_handshake(*w.b_on_a, w.now, w.a.out);
  REQUIRE(w.a.out.sent.size() == 1);
  const std::vector<uint8_t> initiation = pop(w.a.out.sent).bytes;
  const std::vector<uint8_t> data = e.a_to_b(ipv4_packet(kAddrA, kAddrB, 100));
  REQUIRE(data.size() == 144);

  const Snapshot before = snapshot(w.b, *w.a_on_b);
  for (uint8_t type : {uint8_t(0), uint8_t(5), uint8_t(6), uint8_t(128), uint8_t(255)}) {
    for (size_t len : {size_t(4), size_t(32), size_t(64), size_t(92), size_t(148), size_t(1500)}) {
      std::vector<uint8_t> d(len, 0);
      d[0] = type;
      CHECK_EQ(labelled("type " + std::to_string(type) + " len " + std::to_string(len),
                        receive_drops(w.b, d, w.a.endpoint, w.now)),
               labelled("type " + std::to_string(type) + " len " + std::to_string(len), "unknown_type"));
    }
  }
  // Each real type of the right size, with one reserved byte set.
  struct Sample {
    const char* name;
    std::vector<uint8_t> bytes;
  };
  std::vector<uint8_t> response(92, 0);
  write_header(response.data(), MessageType::kResponse);
  std::vector<uint8_t> cookie(64, 0);
  write_header(cookie.data(), MessageType::kCookieReply);
  const Sample samples[] = {{"initiation", initiation}, {"response", response}, {"cookie", cookie}, {"transport", data}};
  for (const Sample& s : samples) {
    for (size_t at = 1; at <= 3; ++at) {
      for (uint8_t v : {uint8_t(1), uint8_t(0x80)}) {
        std::vector<uint8_t> d = s.bytes;
        d[at] = v;
        const std::string label = std::string(s.name) + " reserved[" + std::to_string(at) + "]=" + std::to_string(v);
        CHECK_EQ(labelled(label, receive_drops(w.b, d, w.a.endpoint, w.now)), labelled(label, "unknown_type"));
      }
    }
  }
  CHECK_EQ(w.b.core.drops(Drop::kUnknownType), uint64_t(5 * 6 + 4 * 3 * 2));
  CHECK_EQ(w.b.core.total_drops(), w.b.core.drops(Drop::kUnknownType));
  CHECK_UNCHANGED(before, w.b, *w.a_on_b);

  // The untouched originals are still good.
  w.b.core.receive(data, w.a.endpoint, w.now, w.b.out);
  CHECK_EQ(w.b.out.delivered.size(), size_t(2));
  w.b.core.receive(initiation, w.a.endpoint, w.now, w.b.out);
  REQUIRE(w.b.out.sent.size() == 1);
  CHECK(w.b.out.sent.front().type() == MessageType::kResponse);
}

TEST(initiation_with_any_mac1_bit_flipped_is_dropped_as_bad_mac1) {
  Established e;
  REQUIRE(e.ok());
  TwoPeers& w = e.w;
  skip(w, 6 * kSecond);
  w.a.core.initiate_handshake(*w.b_on_a, w.now, w.a.out);
  REQUIRE(w.a.out.sent.size() == 1);
  const std::vector<uint8_t> initiation = pop(w.a.out.sent).bytes;

  const Snapshot before = snapshot(w.b, *w.a_on_b);
  int wrong = 0;
  for (size_t bit = 0; bit < 128; ++bit) {
    std::vector<uint8_t> d = initiation;
    d[116 + bit / 8] ^= uint8_t(1u << (bit % 8));
    wrong += receive_drops(w.b, d, w.a.endpoint, w.now) != "bad_mac1";
  }
  // Any other byte changed without recomputing mac1, too.
  for (size_t at : {size_t(4), size_t(8), size_t(39), size_t(40), size_t(87), size_t(88), size_t(115)}) {
    std::vector<uint8_t> d = initiation;
    d[at] ^= 0x01;
    wrong += receive_drops(w.b, d, w.a.endpoint, w.now) != "bad_mac1";
  }
  CHECK_EQ(wrong, 0);
  CHECK_EQ(w.b.core.drops(Drop::kBadMac1), uint64_t(128 + 7));
  CHECK(w.b.out.sent.empty());
  CHECK_UNCHANGED(before, w.b, *w.a_on_b);
  // A response to A with a bad mac1 is dropped the same way.
  std::vector<uint8_t> response = e.response;
  response[60] ^= 0x01;
  CHECK_EQ(receive_drops(w.a, response, w.b.endpoint, w.now), std::string("bad_mac1"));

  w.b.core.receive(initiation, w.a.endpoint, w.now, w.b.out);
  CHECK_EQ(w.b.out.sent.size(), size_t(1));  // the genuine one is answered
}

TEST(initiation_with_tampered_ciphertext_and_recomputed_mac1_fails_to_decrypt) {
  Established e;
  REQUIRE(e.ok());
  TwoPeers& w = e.w;
  skip(w, 6 * kSecond);
  w.a.core.initiate_handshake(*w.b_on_a, w.now, w.a.out);
  REQUIRE(w.a.out.sent.size() == 1);
  const std::vector<uint8_t> initiation = pop(w.a.out.sent).bytes;
  const crypto::Hash& mac1_key = w.b.core.identity().mac1_key;

  auto tampered = [&](size_t at, uint8_t mask) {
    std::vector<uint8_t> d = initiation;
    d[at] ^= mask;
    const crypto::Mac mac1 = crypto::mac(mac1_key, {Bytes(d.data(), 116)});
    std::memcpy(d.data() + 116, mac1.data(), 16);
    return d;
  };
  const Snapshot before = snapshot(w.b, *w.a_on_b);
  struct Case {
    const char* what;
    size_t at;
    uint8_t mask;
  };
  const Case cases[] = {
      {"ephemeral", 8, 0x01},        {"ephemeral top bit", 39, 0x80}, {"static ciphertext", 40, 0x01},
      {"static ciphertext", 71, 0x10}, {"static tag", 87, 0x80},       {"timestamp ciphertext", 88, 0x01},
      {"timestamp ciphertext", 99, 0x04}, {"timestamp tag", 115, 0x80},
  };
  for (const Case& c : cases) {
    const std::string label = std::string(c.what) + " byte " + std::to_string(c.at);
    CHECK_EQ(labelled(label, receive_drops(w.b, tampered(c.at, c.mask), w.a.endpoint, w.now)),
             labelled(label, "handshake_decrypt"));
  }
  CHECK(w.b.out.sent.empty());
  CHECK_UNCHANGED(before, w.b, *w.a_on_b);

  // The genuine one still gets its response: no timestamp or flood state was consumed.
  w.b.core.receive(initiation, w.a.endpoint, w.now, w.b.out);
  REQUIRE(w.b.out.sent.size() == 1);
  CHECK(w.b.out.sent.front().type() == MessageType::kResponse);
}

TEST(transport_with_an_unknown_receiver_index_is_dropped) {
  Established e;
  REQUIRE(e.ok());
  TwoPeers& w = e.w;
  const std::vector<uint8_t> data = e.a_to_b(ipv4_packet(kAddrA, kAddrB, 100));
  REQUIRE(data.size() == 144);
  const uint32_t live = load_le32(data.data() + 4);

  const Snapshot before = snapshot(w.b, *w.a_on_b);
  for (uint32_t index : {live ^ 1u, live ^ 0x80000000u, 0u, 0xffffffffu}) {
    if (index == live) continue;
    std::vector<uint8_t> d = data;
    store_le32(d.data() + 4, index);
    CHECK_EQ(receive_drops(w.b, d, w.a.endpoint, w.now), std::string("unknown_index"));
  }
  CHECK_UNCHANGED(before, w.b, *w.a_on_b);

  // The index of a handshake still in progress is not a session either.
  skip(w, 6 * kSecond);
  w.a.core.initiate_handshake(*w.b_on_a, w.now, w.a.out);
  REQUIRE(w.a.out.sent.size() == 1);
  const uint32_t handshake_index = load_le32(w.a.out.sent.front().bytes.data() + 4);
  w.a.out.sent.clear();
  const std::vector<uint8_t> reverse = [&] {
    w.b_sends();
    auto d = pop(w.b.out.sent).bytes;
    store_le32(d.data() + 4, handshake_index);
    return d;
  }();
  const Snapshot a_before = snapshot(w.a, *w.b_on_a);
  CHECK_EQ(receive_drops(w.a, reverse, w.b.endpoint, w.now), std::string("unknown_index"));
  CHECK_UNCHANGED(a_before, w.a, *w.b_on_a);
}

TEST(transport_with_garbage_ciphertext_is_dropped_as_decrypt_and_burns_no_counter) {
  Established e;
  REQUIRE(e.ok());
  TwoPeers& w = e.w;
  const std::vector<uint8_t> data = e.a_to_b(ipv4_packet(kAddrA, kAddrB, 100));
  REQUIRE(data.size() == 144);

  SeededRandom r(31);
  std::vector<uint8_t> garbage = data;
  r.fill(garbage.data() + 16, garbage.size() - 16);  // same header (index, counter), random body
  std::vector<uint8_t> flipped_tag = data;
  flipped_tag.back() ^= 0x01;
  std::vector<uint8_t> flipped_body = data;
  flipped_body[16] ^= 0x01;
  std::vector<uint8_t> other_counter = data;  // the nonce is authenticated too
  store_le64(other_counter.data() + 8, load_le64(data.data() + 8) + 1);
  const Endpoint attacker = Endpoint::v4(203, 0, 113, 66, 6666);

  const Snapshot before = snapshot(w.b, *w.a_on_b);
  for (const auto* d : {&garbage, &flipped_tag, &flipped_body, &other_counter}) {
    CHECK_EQ(receive_drops(w.b, *d, w.a.endpoint, w.now), std::string("decrypt"));
    CHECK_EQ(receive_drops(w.b, *d, attacker, w.now), std::string("decrypt"));  // and no roaming to it
  }
  CHECK_UNCHANGED(before, w.b, *w.a_on_b);

  // The counter the forgeries used is still free for the genuine packet.
  w.b.core.receive(data, w.a.endpoint, w.now, w.b.out);
  REQUIRE(w.b.out.delivered.size() == 2);
  CHECK(w.b.out.delivered[1] == ipv4_packet(kAddrA, kAddrB, 100));
}

TEST(duplicate_transport_is_dropped_as_replay_but_reordering_is_accepted) {
  Established e;
  REQUIRE(e.ok());
  TwoPeers& w = e.w;
  std::vector<std::vector<uint8_t>> packets, wire;
  for (uint8_t i = 1; i <= 3; ++i) {
    packets.push_back(ipv4_packet(kAddrA, kAddrB, 60 + i, i));
    wire.push_back(e.a_to_b(packets.back()));
    REQUIRE(!wire.back().empty());
  }
  const size_t delivered = w.b.out.delivered.size();
  for (size_t i : {size_t(2), size_t(0), size_t(1)}) {
    CHECK_EQ(receive_drops(w.b, wire[i], w.a.endpoint, w.now), std::string());
  }
  REQUIRE(w.b.out.delivered.size() == delivered + 3);
  CHECK(w.b.out.delivered[delivered + 0] == packets[2]);
  CHECK(w.b.out.delivered[delivered + 1] == packets[0]);
  CHECK(w.b.out.delivered[delivered + 2] == packets[1]);

  const Snapshot before = snapshot(w.b, *w.a_on_b);
  for (size_t i : {size_t(0), size_t(2), size_t(1), size_t(0)})
    CHECK_EQ(receive_drops(w.b, wire[i], w.a.endpoint, w.now), std::string("replay"));
  // The first data packet of the session, long since delivered, too (from a new address: no roaming).
  CHECK_EQ(receive_drops(w.b, e.first_data, Endpoint::v4(203, 0, 113, 1, 1), w.now), std::string("replay"));
  CHECK_EQ(w.b.core.drops(Drop::kReplay), uint64_t(5));
  CHECK_UNCHANGED(before, w.b, *w.a_on_b);
}

TEST(response_with_an_unknown_receiver_index_is_dropped_as_unexpected) {
  Established e;
  REQUIRE(e.ok());
  TwoPeers& w = e.w;
  skip(w, 6 * kSecond);
  w.a.core.initiate_handshake(*w.b_on_a, w.now, w.a.out);
  REQUIRE(w.a.out.sent.size() == 1);
  w.b.core.receive(pop(w.a.out.sent).bytes, w.a.endpoint, w.now, w.b.out);
  REQUIRE(w.b.out.sent.size() == 1);
  const std::vector<uint8_t> response = pop(w.b.out.sent).bytes;

  // The same response addressed to another index, with a valid mac1 for A.
  std::vector<uint8_t> misaddressed = response;
  store_le32(misaddressed.data() + 8, load_le32(response.data() + 8) ^ 0x00010000u);
  const crypto::Mac mac1 = crypto::mac(w.a.core.identity().mac1_key, {Bytes(misaddressed.data(), 60)});
  std::memcpy(misaddressed.data() + 60, mac1.data(), 16);
  // And to the index of A's live session (a keypair, not a handshake).
  std::vector<uint8_t> to_session = response;
  store_le32(to_session.data() + 8, w.b_on_a->current->local_index);
  const crypto::Mac mac1b = crypto::mac(w.a.core.identity().mac1_key, {Bytes(to_session.data(), 60)});
  std::memcpy(to_session.data() + 60, mac1b.data(), 16);

  const Snapshot before = snapshot(w.a, *w.b_on_a);
  CHECK_EQ(receive_drops(w.a, misaddressed, w.b.endpoint, w.now), std::string("unexpected_response"));
  CHECK_EQ(receive_drops(w.a, to_session, w.b.endpoint, w.now), std::string("unexpected_response"));
  // The response of the session that is already established, replayed.
  CHECK_EQ(receive_drops(w.a, e.response, w.b.endpoint, w.now), std::string("unexpected_response"));
  CHECK_UNCHANGED(before, w.a, *w.b_on_a);

  // The genuine response still completes the handshake; replaying it afterwards changes nothing.
  w.a.core.receive(response, w.b.endpoint, w.now, w.a.out);
  CHECK_EQ(w.a.out.handshakes, 2);
  w.a.out.sent.clear();
  const Snapshot after = snapshot(w.a, *w.b_on_a);
  CHECK_EQ(receive_drops(w.a, response, w.b.endpoint, w.now), std::string("unexpected_response"));
  CHECK_UNCHANGED(after, w.a, *w.b_on_a);
}

TEST(inner_source_outside_the_senders_allowed_ips_is_dropped) {
  Established e;
  REQUIRE(e.ok());
  TwoPeers& w = e.w;
  const size_t delivered = w.b.out.delivered.size();
  const size_t indices = w.b.core.index_count();
  // A routes by destination (10.0.0.2 is B) and encrypts whatever source the packet claims.
  const auto spoofed = e.a_to_b(ipv4_packet(0x0a000063 /* 10.0.0.99 */, kAddrB, 80));
  REQUIRE(!spoofed.empty());
  CHECK_EQ(receive_drops(w.b, spoofed, w.a.endpoint, w.now), std::string("source_not_allowed"));
  const auto from_b_itself = e.a_to_b(ipv4_packet(kAddrB, kAddrB, 80));  // B's own address, not A's
  CHECK_EQ(receive_drops(w.b, from_b_itself, w.a.endpoint, w.now), std::string("source_not_allowed"));
  std::vector<uint8_t> v6(60, 0);  // an IPv6 packet from an address A was not given
  v6[0] = 0x60;
  v6[5] = 20;
  v6[6] = 17;
  v6[8] = 0xfd;
  v6[23] = 1;
  v6[24] = 0xfd;
  v6[39] = 2;
  const auto spoofed6 = e.a_to_b_raw(v6);
  REQUIRE(!spoofed6.empty());
  CHECK_EQ(receive_drops(w.b, spoofed6, w.a.endpoint, w.now), std::string("source_not_allowed"));
  CHECK_EQ(w.b.out.delivered.size(), delivered);
  CHECK(w.b.out.sent.empty());
  CHECK_EQ(w.b.core.index_count(), indices);
  CHECK(w.a_on_b->next == nullptr);

  // The source A owns passes.
  const auto honest = e.a_to_b(ipv4_packet(kAddrA, kAddrB, 80));
  CHECK_EQ(receive_drops(w.b, honest, w.a.endpoint, w.now), std::string());
  REQUIRE(w.b.out.delivered.size() == delivered + 1);
  CHECK(w.b.out.delivered.back() == ipv4_packet(kAddrA, kAddrB, 80));
}

TEST(decrypted_packet_that_is_not_ipv4_or_ipv6_is_dropped_as_malformed_inner) {
  Established e;
  REQUIRE(e.ok());
  TwoPeers& w = e.w;
  const size_t delivered = w.b.out.delivered.size();

  struct Case {
    const char* what;
    std::vector<uint8_t> packet;
  };
  std::vector<Case> cases;
  {
    auto p = ipv4_packet(kAddrA, kAddrB, 100);
    p[0] = 0x55;  // version 5
    cases.push_back({"version 5", p});
  }
  {
    auto p = ipv4_packet(kAddrA, kAddrB, 100);
    p[0] = 0x05;  // version 0
    cases.push_back({"version 0", p});
  }
  {
    auto p = ipv4_packet(kAddrA, kAddrB, 100);
    p[2] = 0;
    p[3] = 200;  // says 200 bytes, carries 100 (padded to 112)
    cases.push_back({"ipv4 total length past the payload", p});
  }
  {
    auto p = ipv4_packet(kAddrA, kAddrB, 100);
    p[2] = 0;
    p[3] = 19;  // shorter than its own header
    cases.push_back({"ipv4 total length below 20", p});
  }
  {
    auto p = ipv4_packet(kAddrA, kAddrB, 100);
    p.resize(12);  // a truncated IPv4 header
    cases.push_back({"ipv4 shorter than a header", p});
  }
  {
    std::vector<uint8_t> p(60, 0);
    p[0] = 0x60;
    p[5] = 200;  // payload length past the packet
    cases.push_back({"ipv6 payload length past the payload", p});
  }
  {
    std::vector<uint8_t> p(32, 0);
    p[0] = 0x60;  // shorter than the 40-byte IPv6 header
    cases.push_back({"ipv6 shorter than a header", p});
  }
  const Snapshot before = snapshot(w.b, *w.a_on_b);
  for (const Case& c : cases) {
    const auto wire = e.a_to_b_raw(c.packet);
    REQUIRE(!wire.empty());
    CHECK_EQ(labelled(c.what, receive_drops(w.b, wire, w.a.endpoint, w.now)), labelled(c.what, "malformed_inner"));
  }
  CHECK_EQ(w.b.out.delivered.size(), delivered);
  CHECK(w.b.out.sent.empty());
  const Snapshot after = snapshot(w.b, *w.a_on_b);
  CHECK_EQ(after.indices, before.indices);
  CHECK(after.current == before.current && after.next == before.next && after.previous == before.previous);

  // From the tunnel side too, A refuses to route a packet that is neither.
  CHECK_EQ(tunnel_drops(w.a, cases[0].packet, w.now), std::string("malformed_inner"));
  CHECK_EQ(tunnel_drops(w.a, {}, w.now), std::string("malformed_inner"));
  CHECK(w.a.out.sent.empty());
}

TEST(packet_to_an_address_no_peer_owns_is_dropped_as_no_route) {
  TwoPeers w;  // no session yet: a misrouted packet must not start a handshake either
  CHECK_EQ(tunnel_drops(w.a, ipv4_packet(kAddrA, 0x0a000003 /* 10.0.0.3 */, 100), w.now), std::string("no_route"));
  CHECK_EQ(tunnel_drops(w.a, ipv4_packet(kAddrA, 0x08080808, 100), w.now), std::string("no_route"));
  std::vector<uint8_t> v6(40, 0);
  v6[0] = 0x60;
  v6[24] = 0xfd;
  v6[39] = 2;
  CHECK_EQ(tunnel_drops(w.a, v6, w.now), std::string("no_route"));
  CHECK(w.a.out.sent.empty());
  CHECK(w.b_on_a->staged.empty());
  CHECK_EQ(w.a.core.index_count(), size_t(0));
  CHECK(w.b_on_a->handshake.stage == HandshakeStage::kNone);

  Established e;
  REQUIRE(e.ok());
  CHECK_EQ(tunnel_drops(e.w.a, ipv4_packet(kAddrA, 0x0a000003, 100), e.w.now), std::string("no_route"));
  CHECK(e.w.a.out.sent.empty());
  CHECK_EQ(e.w.b_on_a->current->send_counter, uint64_t(1));  // only the first data packet used a nonce
}

TEST(packets_before_a_session_are_queued_up_to_128_and_the_newest_are_delivered_in_order) {
  TwoPeers w;
  std::vector<std::vector<uint8_t>> packets;
  for (size_t i = 0; i < 200; ++i) {
    packets.push_back(ipv4_packet(kAddrA, kAddrB, 40 + i, uint8_t(i)));
    w.a.core.send(packets.back(), w.now, w.a.out);
  }
  // One initiation went out; the oldest 72 packets were pushed out of the queue.
  REQUIRE(w.a.out.sent.size() == 1);
  CHECK(w.a.out.sent.front().type() == MessageType::kInitiation);
  CHECK_EQ(w.b_on_a->staged.size(), kMaxStagedPackets);
  CHECK_EQ(w.a.core.drops(Drop::kStagedOverflow), uint64_t(200 - kMaxStagedPackets));
  CHECK_EQ(w.a.core.total_drops(), uint64_t(200 - kMaxStagedPackets));

  w.exchange();
  REQUIRE(w.b.out.delivered.size() == kMaxStagedPackets);
  int out_of_place = 0;
  for (size_t i = 0; i < kMaxStagedPackets; ++i)
    out_of_place += w.b.out.delivered[i] != packets[200 - kMaxStagedPackets + i];
  CHECK_EQ(out_of_place, 0);
  CHECK(w.b_on_a->staged.empty());
  CHECK_EQ(w.b.core.total_drops(), uint64_t(0));
}

// A random datagram of 0..1500 bytes whose first byte is 1..4. To get past the size check, half of them
// have the exact size of their type (transport: at least a keepalive); most have zero reserved bytes; half
// of the handshake messages carry a valid mac1 for the receiver, and half of those with a receiver index
// name `index`, with small transport counters now and then.
static std::vector<uint8_t> random_datagram(std::mt19937_64& gen, Random& bytes, const crypto::Hash& mac1_key,
                                     uint32_t index) {
  static constexpr size_t kExact[] = {0, 148, 92, 64, 32};
  const uint8_t type = uint8_t(1 + gen() % 4);
  size_t len = gen() % 1501;
  if (gen() % 2) len = type == 4 ? 32 + gen() % 1469 : kExact[type];
  std::vector<uint8_t> d(len);
  bytes.fill(d.data(), d.size());
  if (len >= 1) d[0] = type;
  if (len >= 4 && gen() % 4 != 0) d[1] = d[2] = d[3] = 0;
  if (type >= 2 && len >= 32 && gen() % 2) {
    store_le32(d.data() + (type == 2 ? 8 : 4), index);
    if (type == 4 && gen() % 2) store_le64(d.data() + 8, gen() % 64);
  }
  if (len == kExact[type] && (type == 1 || type == 2) && gen() % 2) {
    const crypto::Mac mac1 = crypto::mac(mac1_key, {Bytes(d.data(), len - 32)});
    std::memcpy(d.data() + len - 32, mac1.data(), 16);
  }
  return d;
}

TEST(ten_thousand_random_datagrams_leave_an_established_session_working) {
  Established e;
  REQUIRE(e.ok());
  TwoPeers& w = e.w;
  std::mt19937_64 gen(20240611);
  SeededRandom bytes(4242);
  const Endpoint from = Endpoint::v4(203, 0, 113, 200, 1234);

  const Snapshot before = snapshot(w.b, *w.a_on_b);
  const uint64_t drops_before = w.b.core.total_drops();
  // Spread over 1.25 s (8 a millisecond): the few with a valid mac1 stay below the rate that would
  // put b under load and answer them with cookies (that case: load_test.cpp).
  for (int i = 0; i < 10'000; ++i) {
    w.b.core.receive(random_datagram(gen, bytes, w.b.core.identity().mac1_key, w.a_on_b->current->local_index),
                     from, w.now, w.b.out);
    if (i % 8 == 7) w.skip(kMillisecond);
  }
  REQUIRE(!w.b.core.under_load(w.now.mono));
  CHECK_EQ(w.b.core.total_drops() - drops_before, uint64_t(10'000));
  CHECK(w.b.out.sent.empty());
  CHECK_UNCHANGED(before, w.b, *w.a_on_b);

  // The mix reached every check a datagram can fail on its way to a session, not just the size check.
  for (Drop d : {Drop::kTooShort, Drop::kUnknownType, Drop::kBadSize, Drop::kBadMac1, Drop::kHandshakeDecrypt,
                 Drop::kUnexpectedResponse, Drop::kBadCookie, Drop::kUnknownIndex, Drop::kReplay, Drop::kDecrypt})
    CHECK_EQ(labelled(drop_name(d), w.b.core.drops(d) > 0 ? "reached" : "never"), labelled(drop_name(d), "reached"));

  // The session still carries data both ways.
  w.a_sends(200);
  w.exchange();
  REQUIRE(w.b.out.delivered.size() == 2);
  CHECK(w.b.out.delivered[1] == ipv4_packet(kAddrA, kAddrB, 200));
  w.b_sends(120);
  w.exchange();
  REQUIRE(w.a.out.delivered.size() == 1);
  CHECK(w.a.out.delivered[0] == ipv4_packet(kAddrB, kAddrA, 120));
}

TEST(ten_thousand_random_datagrams_during_a_handshake_do_not_disturb_it) {
  TwoPeers w;
  w.a_sends();
  const std::vector<uint8_t> initiation = pop(w.a.out.sent).bytes;
  w.b.core.receive(initiation, w.a.endpoint, w.now, w.b.out);
  REQUIRE(w.b.out.sent.size() == 1);
  const std::vector<uint8_t> response = pop(w.b.out.sent).bytes;

  // Before the response arrives, A (waiting under its handshake index) is flooded.
  std::mt19937_64 gen(77);
  SeededRandom bytes(78);
  const uint32_t handshake_index = load_le32(initiation.data() + 4);
  const Snapshot before = snapshot(w.a, *w.b_on_a);
  for (int i = 0; i < 10'000; ++i) {  // spread over 1.25 s, as above
    w.a.core.receive(random_datagram(gen, bytes, w.a.core.identity().mac1_key, handshake_index),
                     Endpoint::v4(203, 0, 113, 201, 999), w.now, w.a.out);
    if (i % 8 == 7) w.skip(kMillisecond);
  }
  REQUIRE(!w.a.core.under_load(w.now.mono));
  CHECK_EQ(w.a.core.total_drops(), uint64_t(10'000));
  CHECK(w.a.out.sent.empty());
  CHECK_UNCHANGED(before, w.a, *w.b_on_a);
  for (Drop d : {Drop::kHandshakeDecrypt, Drop::kBadCookie, Drop::kUnknownIndex})  // forged responses and cookies
    CHECK_EQ(labelled(drop_name(d), w.a.core.drops(d) > 0 ? "reached" : "never"), labelled(drop_name(d), "reached"));

  // The genuine response still completes the handshake and the queued packet arrives.
  w.a.core.receive(response, w.b.endpoint, w.now, w.a.out);
  CHECK_EQ(w.a.out.handshakes, 1);
  w.exchange();
  REQUIRE(w.b.out.delivered.size() == 1);
  CHECK(w.b.out.delivered[0] == ipv4_packet(kAddrA, kAddrB, 100));
}
