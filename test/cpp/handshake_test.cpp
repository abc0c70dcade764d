// Two in-memory peers: the Noise_IKpsk2 handshake, session confirmation and data in both directions.
#include "harness.h"
#include "two_peers.h"

using namespace wgvm;
using namespace wgvm::test;

TEST(handshake_completes_and_data_flows_both_ways) {
  TwoPeers w;
  w.a_sends(100);
  REQUIRE(w.a.out.sent.size() == 1);
  CHECK(w.a.out.sent.front().type() == MessageType::kInitiation);
  CHECK_EQ(w.a.out.sent.front().bytes.size(), size_t(148));
  w.exchange();
  // initiation → response → the staged packet (which confirms the session to B)
  REQUIRE(w.b.out.delivered.size() == 1);
  CHECK(w.b.out.delivered[0] == ipv4_packet(kAddrA, kAddrB, 100));
  CHECK(w.b_on_a->current != nullptr);
  CHECK(w.a_on_b->current != nullptr);
  CHECK(w.a_on_b->next == nullptr);
  CHECK_EQ(w.a.out.handshakes, 1);
  CHECK_EQ(w.b.out.handshakes, 1);
  CHECK(w.a_on_b->endpoint == w.a.endpoint);

  w.b_sends(60);
  w.exchange();
  REQUIRE(w.a.out.delivered.size() == 1);
  CHECK(w.a.out.delivered[0] == ipv4_packet(kAddrB, kAddrA, 60));
  CHECK_EQ(w.a.core.total_drops(), uint64_t(0));
  CHECK_EQ(w.b.core.total_drops(), uint64_t(0));
}

TEST(handshake_with_preshared_key_completes) {
  crypto::Key psk;
  psk.fill(0x5c);
  TwoPeers w(&psk);
  w.establish();
  CHECK_EQ(w.b.out.delivered.size(), size_t(1));
  CHECK(w.b_on_a->current != nullptr);
}

TEST(responder_can_initiate_too) {
  TwoPeers w;
  w.a_on_b->endpoint = w.a.endpoint;
  w.b_sends(80);
  CHECK(w.b.out.sent.front().type() == MessageType::kInitiation);
  w.exchange();
  REQUIRE(w.a.out.delivered.size() == 1);
  CHECK(w.a.out.delivered[0] == ipv4_packet(kAddrB, kAddrA, 80));
  CHECK(w.a_on_b->current->initiator);
  CHECK(!w.b_on_a->current->initiator);
}

TEST(responder_keeps_new_keypair_as_next_until_first_data) {
  TwoPeers w;
  w.a_sends();
  w.b.core.receive(w.a.out.sent.front().bytes, w.a.endpoint, w.now, w.b.out);  // initiation only
  w.a.out.sent.pop_front();
  CHECK(w.a_on_b->next != nullptr);
  CHECK(w.a_on_b->current == nullptr);
  CHECK_EQ(w.b.out.handshakes, 0);
  // Receiving on `next` confirms it: it becomes current and the handshake is complete.
  w.exchange();
  CHECK(w.a_on_b->current != nullptr);
  CHECK(w.a_on_b->next == nullptr);
  CHECK_EQ(w.b.out.handshakes, 1);
  CHECK_EQ(w.b.out.delivered.size(), size_t(1));
}

TEST(data_of_every_size_up_to_the_mtu_round_trips_with_padding) {
  TwoPeers w;
  w.establish();
  for (size_t size = 20; size <= 1420; ++size) {
    const auto packet = ipv4_packet(kAddrA, kAddrB, size, uint8_t(size));
    w.a.core.send(packet, w.now, w.a.out);
    REQUIRE(w.a.out.sent.size() == 1);
    const size_t padded = std::min<size_t>((size + 15) / 16 * 16, 1420);
    CHECK_EQ(w.a.out.sent.front().bytes.size(), 32 + padded);
    w.exchange();
    REQUIRE(!w.b.out.delivered.empty());
    CHECK(w.b.out.delivered.back() == packet);
    w.b.core.send(ipv4_packet(kAddrB, kAddrA, size, uint8_t(~size)), w.now, w.b.out);
    w.exchange();
    REQUIRE(!w.a.out.delivered.empty());
    CHECK(w.a.out.delivered.back() == ipv4_packet(kAddrB, kAddrA, size, uint8_t(~size)));
  }
  CHECK_EQ(w.b.out.delivered.size(), size_t(1 + 1401));
  CHECK_EQ(w.a.core.total_drops() + w.b.core.total_drops(), uint64_t(0));
}

TEST(keepalive_is_the_zero_length_message_of_32_bytes) {
  TwoPeers w;
  w.a_sends();
  w.b.core.receive(w.a.out.sent.front().bytes, w.a.endpoint, w.now, w.b.out);
  w.a.out.sent.clear();
  // A has nothing staged now (drop it), so the response makes A send a bare keepalive.
  w.b_on_a->staged.clear();
  w.a.core.receive(w.b.out.sent.front().bytes, w.b.endpoint, w.now, w.a.out);
  w.b.out.sent.clear();
  REQUIRE(w.a.out.sent.size() == 1);
  CHECK_EQ(w.a.out.sent.front().bytes.size(), size_t(32));
  CHECK(w.a.out.sent.front().type() == MessageType::kTransport);
  w.exchange();
  CHECK(w.a_on_b->current != nullptr);  // the keepalive confirmed the session
  CHECK(w.b.out.delivered.empty());
}

TEST(wire_byte_counters_include_handshakes) {
  TwoPeers w;
  w.establish();  // initiation 148, response 92, one 100-byte packet padded to 112 → 144
  CHECK_EQ(w.b_on_a->tx_bytes, uint64_t(148 + 144));
  CHECK_EQ(w.a_on_b->rx_bytes, uint64_t(148 + 144));
  CHECK_EQ(w.a_on_b->tx_bytes, uint64_t(92));
  CHECK_EQ(w.b_on_a->rx_bytes, uint64_t(92));
  CHECK(w.b_on_a->last_handshake_wall == w.now.wall);
}

TEST(wrong_static_key_gets_no_answer_and_changes_nothing) {
  TwoPeers w;
  // B knows some other key instead of A's.
  w.b.core.remove_peer(*w.a_on_b);
  crypto::Key other = w.a.public_key;
  other[5] ^= 1;
  w.b.core.add_peer(other);
  const size_t indices = w.b.core.index_count();
  w.a_sends();
  w.exchange();
  CHECK_EQ(w.b.core.drops(Drop::kUnknownPeer), uint64_t(1));
  CHECK(w.b.out.sent.empty());
  CHECK_EQ(w.b.core.index_count(), indices);
  CHECK(w.b_on_a->current == nullptr);
  CHECK(w.b_on_a->handshake.stage == HandshakeStage::kInitiationCreated);
}

TEST(wrong_preshared_key_never_establishes_a_session) {
  TwoPeers w;
  crypto::Key psk_a, psk_b;
  psk_a.fill(1);
  psk_b.fill(2);
  w.a.core.set_preshared_key(*w.b_on_a, psk_a);
  w.b.core.set_preshared_key(*w.a_on_b, psk_b);
  w.a_sends();
  w.exchange();
  CHECK_EQ(w.a.core.drops(Drop::kHandshakeDecrypt), uint64_t(1));
  CHECK(w.b_on_a->current == nullptr);
  CHECK(w.b_on_a->handshake.stage == HandshakeStage::kInitiationCreated);  // A still waits for a good response
  CHECK(w.a_on_b->current == nullptr);  // B's guess at a session is never confirmed
  CHECK(w.b.out.delivered.empty());
}

TEST(replayed_initiation_is_dropped_without_state_change) {
  TwoPeers w;
  w.a_sends();
  const auto initiation = w.a.out.sent.front().bytes;
  w.exchange();
  REQUIRE(w.a_on_b->current != nullptr);
  const uint32_t index = w.a_on_b->current->local_index;
  const size_t indices = w.b.core.index_count();
  w.b.core.receive(initiation, w.a.endpoint, w.now, w.b.out);
  CHECK_EQ(w.b.core.drops(Drop::kTimestampReplay), uint64_t(1));
  CHECK(w.b.out.sent.empty());
  CHECK_EQ(w.a_on_b->current->local_index, index);
  CHECK(w.a_on_b->next == nullptr);
  CHECK_EQ(w.b.core.index_count(), indices);
}

TEST(initiations_faster_than_fifty_per_second_are_dropped) {
  TwoPeers w;
  w.a_sends();
  w.exchange();
  // Two fresh initiations 10 ms apart: the second is a flood even with a newer timestamp.
  w.now.mono += 20 * kSecond;
  w.now.wall += 20 * kSecond;
  w.a.core.initiate_handshake(*w.b_on_a, w.now, w.a.out);
  w.b.core.receive(w.a.out.sent.back().bytes, w.a.endpoint, w.now, w.b.out);
  w.a.out.sent.clear();
  w.b.out.sent.clear();
  w.now.mono += 10 * kMillisecond;
  w.now.wall += 50 * kMillisecond;                 // a newer timestamp (past its 2^24 ns granularity)
  w.b_on_a->last_sent_initiation = INT64_MIN / 2;  // lift A's own once-per-REKEY_TIMEOUT limit
  w.a.core.initiate_handshake(*w.b_on_a, w.now, w.a.out);
  REQUIRE(w.a.out.sent.size() == 1);
  w.b.core.receive(w.a.out.sent.back().bytes, w.a.endpoint, w.now, w.b.out);
  CHECK_EQ(w.b.core.drops(Drop::kInitiationFlood), uint64_t(1));
  CHECK(w.b.out.sent.empty());
}

TEST(roaming_follows_the_latest_authenticated_packet) {
  TwoPeers w;
  w.establish();
  const Endpoint moved = Endpoint::v4(198, 51, 100, 7, 40000);
  w.a_sends();
  w.b.core.receive(w.a.out.sent.front().bytes, moved, w.now, w.b.out);
  w.a.out.sent.clear();
  CHECK(w.a_on_b->endpoint == moved);
  CHECK_EQ(w.b.out.endpoint_changes, 2);  // learned, then moved
  w.b_sends();
  REQUIRE(!w.b.out.sent.empty());
  CHECK(w.b.out.sent.back().to == moved);
  // A forged packet from elsewhere does not move the endpoint.
  auto forged = w.b.out.sent.back().bytes;
  forged[40] ^= 1;
  w.b.core.receive(forged, Endpoint::v4(203, 0, 113, 9, 1), w.now, w.b.out);
  CHECK(w.a_on_b->endpoint == moved);
}

TEST(a_delivered_packet_can_be_re_encrypted_from_inside_deliver_as_the_relay_does) {
  TwoPeers w;
  w.establish();
  // B sends every packet it receives straight back to A, from the buffer deliver hands it, and A
  // accepts its own address from B so that the echo arrives.
  w.b.out.on_deliver = [&](Peer& from, Bytes packet) { w.b.core.send_to(from, packet, w.now, w.b.out); };
  w.a.core.allowed_ips().insert(*routing::parse_prefix("10.0.0.1/32"), w.b_on_a);
  for (size_t size : {20, 100, 1000, 1420}) {
    const auto packet = ipv4_packet(kAddrA, kAddrB, size, uint8_t(size));
    w.a.core.send(packet, w.now, w.a.out);
    w.exchange();
    REQUIRE(!w.a.out.delivered.empty());
    CHECK(w.a.out.delivered.back() == packet);
  }
  CHECK_EQ(w.a.out.delivered.size(), size_t(4));
}
