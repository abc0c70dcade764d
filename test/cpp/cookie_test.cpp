// MAC2, cookies and the handshake rate limit: the DoS defence of the WireGuard paper §5.4.4 and
// §5.4.7. Under load (Core::set_handshake_backlog at or above kUnderLoadBacklog, sticky for
// kUnderLoadAfterTime) a responder answers an initiation that has no valid mac2 with a cookie reply,
// and rate-limits handshakes that do carry one. Cookies are checked here independently of the core:
// decrypted with HASH("cookie--" ‖ responder public key) and the answered mac1 as associated data.
#include <algorithm>
#include <cstring>
#include <optional>
#include <vector>

#include "crypto/aead.h"
#include "harness.h"
#include "two_peers.h"

using namespace wgvm;
using namespace wgvm::test;

namespace {

using crypto::Hash;
using crypto::Mac;

Datagram pop(std::deque<Datagram>& q) {
  Datagram d = std::move(q.front());
  q.pop_front();
  return d;
}

void put_under_load(TwoPeers& w) { w.b.core.set_handshake_backlog(kUnderLoadBacklog, w.now.mono); }

// Moves both clocks without firing any timer: the test decides what is sent.
void skip(TwoPeers& w, Nanos dt) {
  w.now.mono += dt;
  w.now.wall += dt;
}

bool mac2_is_zero(const std::vector<uint8_t>& msg) {
  return std::all_of(msg.end() - 16, msg.end(), [](uint8_t b) { return b == 0; });
}

bool has_type(const Datagram& d, MessageType t) { return !d.bytes.empty() && d.type() == t; }

bool is_cookie_reply(const Datagram& d) {
  return d.bytes.size() == 64 && d.bytes[0] == 3 && d.bytes[1] == 0 && d.bytes[2] == 0 && d.bytes[3] == 0;
}

uint32_t sender_index(const std::vector<uint8_t>& handshake) { return load_le32(handshake.data() + 4); }

// The cookie in `reply`, as the initiator of `answered` decrypts it (paper §5.4.7); empty if it does not.
std::optional<Mac> open_cookie(const crypto::Key& responder_public, const std::vector<uint8_t>& reply,
                               const std::vector<uint8_t>& answered) {
  static const uint8_t label[8] = {'c', 'o', 'o', 'k', 'i', 'e', '-', '-'};
  const Hash key = crypto::blake2s({Bytes(label, 8), responder_public});
  const size_t mac1_at = answered.size() - 32;
  Mac cookie;
  if (!crypto::xaead_open(key.data(), reply.data() + 8, Bytes(reply.data() + 32, 32),
                          Bytes(answered.data() + mac1_at, 16), cookie.data()))
    return std::nullopt;
  return cookie;
}

// mac2 = MAC(cookie, msg[0 .. 132)) of an initiation.
Mac expected_mac2(const Mac& cookie, const std::vector<uint8_t>& initiation) {
  return crypto::mac(cookie, {Bytes(initiation.data(), 132)});
}

// An initiation of random content with a valid mac1 for the responder, and a mac2 made with `cookie`
// (all zeros without one): it passes every check before decryption, and fails decryption.
std::vector<uint8_t> crafted_initiation(Random& r, const Hash& responder_mac1_key, const Mac* cookie) {
  std::vector<uint8_t> m(148);
  r.fill(m.data(), m.size());
  m[0] = 1;
  m[1] = m[2] = m[3] = 0;
  const Mac mac1 = crypto::mac(responder_mac1_key, {Bytes(m.data(), 116)});
  std::memcpy(m.data() + 116, mac1.data(), 16);
  if (cookie) {
    const Mac mac2 = expected_mac2(*cookie, m);
    std::memcpy(m.data() + 132, mac2.data(), 16);
  } else {
    std::memset(m.data() + 132, 0, 16);
  }
  return m;
}

}  // namespace

TEST(under_load_initiation_without_mac2_gets_a_cookie_reply_and_no_session) {
  TwoPeers w;
  w.a_sends();
  REQUIRE(w.a.out.sent.size() == 1);
  const Datagram init = pop(w.a.out.sent);
  CHECK(mac2_is_zero(init.bytes));  // no cookie yet
  const size_t indices = w.b.core.index_count();

  put_under_load(w);
  CHECK(w.b.core.under_load(w.now.mono));
  w.b.core.receive(init.bytes, w.a.endpoint, w.now, w.b.out);

  REQUIRE(w.b.out.sent.size() == 1);
  const Datagram& reply = w.b.out.sent.front();
  CHECK(is_cookie_reply(reply));
  CHECK_EQ(reply.bytes.size(), size_t(64));
  CHECK(reply.to == w.a.endpoint);
  CHECK_EQ(load_le32(reply.bytes.data() + 4), sender_index(init.bytes));  // addressed to the initiation
  CHECK(open_cookie(w.b.public_key, reply.bytes, init.bytes).has_value());
  CHECK_EQ(w.b.core.drops(Drop::kCookieSent), uint64_t(1));
  CHECK_EQ(w.b.core.total_drops(), uint64_t(1));

  // The responder did no Diffie-Hellman work and keeps nothing.
  CHECK_EQ(w.b.core.index_count(), indices);
  CHECK(w.a_on_b->next == nullptr);
  CHECK(w.a_on_b->current == nullptr);
  CHECK(w.a_on_b->handshake.stage == HandshakeStage::kNone);
  CHECK(!w.a_on_b->endpoint.valid());
  CHECK_EQ(w.b.out.endpoint_changes, 0);
  CHECK_EQ(w.a_on_b->rx_bytes, uint64_t(0));
  CHECK(w.b.out.delivered.empty());
}

TEST(under_load_lasts_one_second_after_the_last_high_backlog_report) {
  TwoPeers w;
  w.b.core.set_handshake_backlog(kUnderLoadBacklog - 1, w.now.mono);
  CHECK(!w.b.core.under_load(w.now.mono));
  put_under_load(w);
  const Nanos reported = w.now.mono;
  w.b.core.set_handshake_backlog(0, reported + 500 * kMillisecond);  // a low backlog does not end it early
  CHECK(w.b.core.under_load(reported + kSecond - 1));
  CHECK(!w.b.core.under_load(reported + kSecond));

  // One second after the report an initiation without mac2 is answered normally again.
  skip(w, kSecond);
  w.a_sends();
  w.exchange();
  CHECK_EQ(w.b.core.drops(Drop::kCookieSent), uint64_t(0));
  CHECK_EQ(w.b.out.delivered.size(), size_t(1));
}

TEST(initiator_retries_with_the_cookie_and_the_handshake_completes_under_load) {
  TwoPeers w;
  w.a_sends();
  const Datagram init = pop(w.a.out.sent);
  put_under_load(w);
  w.b.core.receive(init.bytes, w.a.endpoint, w.now, w.b.out);
  REQUIRE(w.b.out.sent.size() == 1);
  const Datagram reply = pop(w.b.out.sent);
  const auto cookie = open_cookie(w.b.public_key, reply.bytes, init.bytes);
  REQUIRE(cookie.has_value());

  w.a.core.receive(reply.bytes, w.b.endpoint, w.now, w.a.out);
  CHECK_EQ(w.a.core.total_drops(), uint64_t(0));  // consumed, not dropped
  CHECK(w.a.out.sent.empty());                    // the retry waits for the retransmission timer
  // The same reply again is not consumed twice: one cookie per message sent.
  w.a.core.receive(reply.bytes, w.b.endpoint, w.now, w.a.out);
  CHECK_EQ(w.a.core.drops(Drop::kBadCookie), uint64_t(1));

  w.advance(5 * kSecond + 500 * kMillisecond);  // REKEY_TIMEOUT + jitter
  REQUIRE(w.a.out.sent.size() == 1);
  const std::vector<uint8_t> retry = w.a.out.sent.front().bytes;
  CHECK(w.a.out.sent.front().type() == MessageType::kInitiation);
  CHECK(!mac2_is_zero(retry));
  const Mac mac2 = expected_mac2(*cookie, retry);
  CHECK(std::equal(mac2.begin(), mac2.end(), retry.begin() + 132));

  put_under_load(w);
  w.exchange();
  CHECK_EQ(w.b.core.drops(Drop::kCookieSent), uint64_t(1));  // no second cookie
  CHECK_EQ(w.b.core.total_drops(), uint64_t(1));
  CHECK_EQ(w.a.out.handshakes, 1);
  CHECK_EQ(w.b.out.handshakes, 1);
  REQUIRE(w.b.out.delivered.size() == 1);
  CHECK(w.b.out.delivered[0] == ipv4_packet(kAddrA, kAddrB, 100));
  CHECK(w.a_on_b->current != nullptr);
}

TEST(initiator_under_load_answers_a_response_with_a_cookie_and_the_next_response_carries_mac2) {
  TwoPeers w;
  w.a_sends();
  w.b.core.receive(pop(w.a.out.sent).bytes, w.a.endpoint, w.now, w.b.out);
  REQUIRE(w.b.out.sent.size() == 1);
  const std::vector<uint8_t> response = pop(w.b.out.sent).bytes;
  CHECK(mac2_is_zero(response));

  w.a.core.set_handshake_backlog(kUnderLoadBacklog, w.now.mono);
  const size_t indices = w.a.core.index_count();
  w.a.core.receive(response, w.b.endpoint, w.now, w.a.out);
  REQUIRE(w.a.out.sent.size() == 1);
  const Datagram reply = pop(w.a.out.sent);
  CHECK(is_cookie_reply(reply));
  CHECK(reply.to == w.b.endpoint);
  CHECK_EQ(load_le32(reply.bytes.data() + 4), sender_index(response));
  CHECK(open_cookie(w.a.public_key, reply.bytes, response).has_value());
  CHECK_EQ(w.a.core.drops(Drop::kCookieSent), uint64_t(1));
  CHECK(w.b_on_a->current == nullptr);  // no session from a response without mac2
  CHECK(w.b_on_a->handshake.stage == HandshakeStage::kInitiationCreated);
  CHECK_EQ(w.a.core.index_count(), indices);
  CHECK_EQ(w.a.out.handshakes, 0);

  w.b.core.receive(reply.bytes, w.a.endpoint, w.now, w.b.out);
  CHECK_EQ(w.b.core.total_drops(), uint64_t(0));  // B took the cookie

  // A retries; B's response to the retry carries a mac2 and gets through A's load.
  w.advance(5 * kSecond + 500 * kMillisecond);
  REQUIRE(w.a.out.sent.size() == 1);
  w.b.core.receive(pop(w.a.out.sent).bytes, w.a.endpoint, w.now, w.b.out);
  REQUIRE(w.b.out.sent.size() == 1);
  CHECK(!mac2_is_zero(w.b.out.sent.front().bytes));
  w.a.core.set_handshake_backlog(kUnderLoadBacklog, w.now.mono);
  w.exchange();
  CHECK_EQ(w.a.core.drops(Drop::kCookieSent), uint64_t(1));
  CHECK_EQ(w.a.out.handshakes, 1);
  CHECK_EQ(w.b.out.delivered.size(), size_t(1));
}

TEST(forged_cookie_replies_are_rejected_and_the_next_initiation_has_no_mac2) {
  TwoPeers w;
  w.a_sends();
  const Datagram init = pop(w.a.out.sent);
  put_under_load(w);
  w.b.core.receive(init.bytes, w.a.endpoint, w.now, w.b.out);
  REQUIRE(w.b.out.sent.size() == 1);
  const std::vector<uint8_t> genuine = pop(w.b.out.sent).bytes;

  std::vector<std::vector<uint8_t>> forged;
  {
    std::vector<uint8_t> random_bytes(64);
    SeededRandom r(77);
    r.fill(random_bytes.data(), random_bytes.size());
    write_header(random_bytes.data(), MessageType::kCookieReply);
    store_le32(random_bytes.data() + 4, sender_index(init.bytes));
    forged.push_back(random_bytes);
  }
  for (size_t at : {size_t(8), size_t(31)}) {  // the nonce
    auto f = genuine;
    f[at] ^= 0x01;
    forged.push_back(f);
  }
  for (size_t at : {size_t(32), size_t(47), size_t(48), size_t(63)}) {  // the encrypted cookie and its tag
    auto f = genuine;
    f[at] ^= 0x80;
    forged.push_back(f);
  }
  for (const auto& f : forged) {
    REQUIRE(load_le32(f.data() + 4) == sender_index(init.bytes));
    w.a.core.receive(f, w.b.endpoint, w.now, w.a.out);
  }
  CHECK_EQ(w.a.core.drops(Drop::kBadCookie), uint64_t(forged.size()));
  CHECK_EQ(w.a.core.total_drops(), uint64_t(forged.size()));
  CHECK(w.a.out.sent.empty());

  w.advance(5 * kSecond + 500 * kMillisecond);
  REQUIRE(w.a.out.sent.size() == 1);
  const std::vector<uint8_t> retry = pop(w.a.out.sent).bytes;
  CHECK(mac2_is_zero(retry));

  // The genuine reply answered the first initiation, whose index is gone now.
  w.a.core.receive(genuine, w.b.endpoint, w.now, w.a.out);
  CHECK_EQ(w.a.core.drops(Drop::kUnexpectedResponse), uint64_t(1));

  // The forgeries did not spoil anything: the next genuine cookie is taken and used.
  put_under_load(w);
  w.b.core.receive(retry, w.a.endpoint, w.now, w.b.out);
  CHECK_EQ(w.b.core.drops(Drop::kCookieSent), uint64_t(2));
  w.exchange();
  w.advance(5 * kSecond + 500 * kMillisecond);
  REQUIRE(w.a.out.sent.size() == 1);
  CHECK(!mac2_is_zero(w.a.out.sent.front().bytes));
  put_under_load(w);
  w.exchange();
  CHECK_EQ(w.b.out.delivered.size(), size_t(1));
  CHECK_EQ(w.b.core.drops(Drop::kCookieSent), uint64_t(2));
}

TEST(cookie_for_one_source_address_and_port_does_not_validate_from_another) {
  TwoPeers w;
  w.a_sends();
  put_under_load(w);
  w.exchange();  // initiation → cookie reply → consumed
  REQUIRE(w.b.core.drops(Drop::kCookieSent) == 1);
  w.advance(5 * kSecond + 500 * kMillisecond);
  REQUIRE(w.a.out.sent.size() == 1);
  const std::vector<uint8_t> retry = pop(w.a.out.sent).bytes;
  REQUIRE(!mac2_is_zero(retry));
  const size_t indices = w.b.core.index_count();

  const Endpoint other_address = Endpoint::v4(198, 51, 100, 7, w.a.endpoint.port);
  Endpoint other_port = w.a.endpoint;
  other_port.port = uint16_t(w.a.endpoint.port + 1);
  uint64_t cookies = 1;
  for (const Endpoint& from : {other_address, other_port}) {
    put_under_load(w);
    w.b.core.receive(retry, from, w.now, w.b.out);
    REQUIRE(w.b.out.sent.size() == 1);
    const Datagram reply = pop(w.b.out.sent);
    CHECK(is_cookie_reply(reply));
    CHECK(reply.to == from);
    CHECK_EQ(w.b.core.drops(Drop::kCookieSent), ++cookies);
    CHECK(w.a_on_b->next == nullptr);
    CHECK_EQ(w.b.core.index_count(), indices);
  }

  // From the address and port the cookie was made for, the same initiation is answered.
  put_under_load(w);
  w.b.core.receive(retry, w.a.endpoint, w.now, w.b.out);
  REQUIRE(w.b.out.sent.size() == 1);
  CHECK(w.b.out.sent.front().type() == MessageType::kResponse);
  CHECK_EQ(w.b.core.drops(Drop::kCookieSent), cookies);
  CHECK(w.a_on_b->next != nullptr);
}

TEST(cookie_stops_validating_once_the_responders_secret_rotates_after_120s) {
  TwoPeers w;
  const Nanos t0 = w.now.mono;
  auto at = [&](Nanos since_t0) { skip(w, t0 + since_t0 - w.now.mono); };
  auto initiate = [&]() -> std::vector<uint8_t> {
    w.a.out.sent.clear();
    w.a.core.initiate_handshake(*w.b_on_a, w.now, w.a.out);
    if (w.a.out.sent.size() != 1 || w.a.out.sent.front().type() != MessageType::kInitiation) return {};
    return pop(w.a.out.sent).bytes;
  };
  auto deliver_to_b = [&](const std::vector<uint8_t>& m) -> Datagram {
    put_under_load(w);
    w.b.core.receive(m, w.a.endpoint, w.now, w.b.out);
    if (w.b.out.sent.size() != 1) return {};
    return pop(w.b.out.sent);
  };

  // t0: the responder's cookie secret is made; that first reply is lost.
  const auto i1 = initiate();
  REQUIRE(i1.size() == 148);
  REQUIRE(is_cookie_reply(deliver_to_b(i1)));

  // t0+100 s: a cookie from the same secret reaches the initiator.
  at(100 * kSecond);
  const auto i2 = initiate();
  REQUIRE(i2.size() == 148);
  CHECK(mac2_is_zero(i2));
  const Datagram c2 = deliver_to_b(i2);
  REQUIRE(is_cookie_reply(c2));
  w.a.core.receive(c2.bytes, w.b.endpoint, w.now, w.a.out);
  REQUIRE(w.a.core.total_drops() == 0);

  // t0+105 s: it validates.
  at(105 * kSecond);
  const auto i3 = initiate();
  REQUIRE(i3.size() == 148);
  CHECK(!mac2_is_zero(i3));
  CHECK(has_type(deliver_to_b(i3), MessageType::kResponse));
  CHECK_EQ(w.b.core.drops(Drop::kCookieSent), uint64_t(2));

  // t0+121 s: the initiator still holds it (21 s old) but the responder's secret has rotated.
  at(121 * kSecond);
  const auto i4 = initiate();
  REQUIRE(i4.size() == 148);
  CHECK(!mac2_is_zero(i4));
  const Datagram c4 = deliver_to_b(i4);
  CHECK(is_cookie_reply(c4));
  CHECK_EQ(w.b.core.drops(Drop::kCookieSent), uint64_t(3));

  // A cookie from the new secret works again.
  const Nanos c4_received = w.now.mono;
  w.a.core.receive(c4.bytes, w.b.endpoint, w.now, w.a.out);
  at(126 * kSecond);
  const auto i5 = initiate();
  REQUIRE(i5.size() == 148);
  const Datagram response = deliver_to_b(i5);
  CHECK(has_type(response, MessageType::kResponse));
  CHECK_EQ(w.b.core.drops(Drop::kCookieSent), uint64_t(3));
  w.a.core.receive(response.bytes, w.b.endpoint, w.now, w.a.out);
  CHECK_EQ(w.a.out.handshakes, 1);

  // The initiator uses a cookie for less than 115 s (120 s − REKEY_TIMEOUT), then sends zeros.
  skip(w, c4_received + 110 * kSecond - w.now.mono);
  const auto i6 = initiate();
  REQUIRE(i6.size() == 148);
  CHECK(!mac2_is_zero(i6));
  skip(w, c4_received + 115 * kSecond - w.now.mono);
  const auto i7 = initiate();
  REQUIRE(i7.size() == 148);
  CHECK(mac2_is_zero(i7));
  CHECK_EQ(w.a.core.total_drops(), uint64_t(0));
}

TEST(rate_limiter_allows_a_burst_of_five_then_twenty_per_second_per_address) {
  SeededRandom rng{1};
  RateLimiter limiter{rng};
  const Nanos t = 1'000 * kSecond;
  const Endpoint e = Endpoint::v4(198, 51, 100, 1, 1000);
  for (int i = 0; i < kHandshakeBurst; ++i) CHECK(limiter.allow(e, t));
  CHECK(!limiter.allow(e, t));
  Endpoint other_port = e;
  other_port.port = 2000;
  CHECK(!limiter.allow(other_port, t));                                    // the port does not matter
  CHECK(limiter.allow(Endpoint::v4(198, 51, 100, 2, 1000), t));            // another address: own bucket
  CHECK(!limiter.allow(e, t + 49 * kMillisecond));
  CHECK(limiter.allow(e, t + 50 * kMillisecond));                          // one token per 50 ms
  CHECK(!limiter.allow(e, t + 50 * kMillisecond));

  // Sustained: every 50 ms passes; twice that rate, every other one.
  Nanos now = t + 50 * kMillisecond;
  int passed = 0;
  for (int i = 0; i < 20; ++i) passed += limiter.allow(e, now += 50 * kMillisecond);
  CHECK_EQ(passed, 20);
  passed = 0;
  for (int i = 0; i < 40; ++i) passed += limiter.allow(e, now += 25 * kMillisecond);
  CHECK_EQ(passed, 20);

  // A long pause refills only up to the burst.
  now += 10 * kSecond;
  passed = 0;
  for (int i = 0; i < 10; ++i) passed += limiter.allow(e, now);
  CHECK_EQ(passed, kHandshakeBurst);

  // IPv6 /64s have buckets of their own too.
  Endpoint v6a;
  v6a.family = 6;
  v6a.addr = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  Endpoint v6b = v6a;
  v6b.addr[7] = 2;
  passed = 0;
  for (int i = 0; i < 10; ++i) passed += limiter.allow(v6a, now);
  CHECK_EQ(passed, kHandshakeBurst);
  CHECK(limiter.allow(v6b, now));
}

TEST(under_load_a_burst_of_valid_mac2_initiations_from_one_address_is_rate_limited) {
  TwoPeers w;
  w.a_sends();
  const Datagram init = pop(w.a.out.sent);
  put_under_load(w);
  w.b.core.receive(init.bytes, w.a.endpoint, w.now, w.b.out);
  const Datagram reply = pop(w.b.out.sent);
  const auto cookie = open_cookie(w.b.public_key, reply.bytes, init.bytes);
  REQUIRE(cookie.has_value());
  w.a.core.receive(reply.bytes, w.b.endpoint, w.now, w.a.out);

  w.advance(5 * kSecond + 500 * kMillisecond);
  REQUIRE(w.a.out.sent.size() == 1);
  const std::vector<uint8_t> genuine = pop(w.a.out.sent).bytes;  // carries a valid mac2

  // Ten initiations with valid mac1 and mac2 from A's address at one instant: the first five pass the
  // limiter (and fail only at decryption); the rest are refused before any Diffie-Hellman.
  SeededRandom r(5);
  put_under_load(w);
  for (int i = 0; i < 10; ++i)
    w.b.core.receive(crafted_initiation(r, w.b.core.identity().mac1_key, &*cookie), w.a.endpoint, w.now, w.b.out);
  CHECK_EQ(w.b.core.drops(Drop::kHandshakeDecrypt), uint64_t(kHandshakeBurst));
  CHECK_EQ(w.b.core.drops(Drop::kRateLimited), uint64_t(10 - kHandshakeBurst));
  CHECK_EQ(w.b.core.drops(Drop::kCookieSent), uint64_t(1));
  CHECK(w.b.out.sent.empty());

  // The genuine initiator behind that address is refused too while the bucket is empty ...
  w.b.core.receive(genuine, w.a.endpoint, w.now, w.b.out);
  CHECK_EQ(w.b.core.drops(Drop::kRateLimited), uint64_t(10 - kHandshakeBurst + 1));
  CHECK(w.b.out.sent.empty());
  CHECK(w.a_on_b->next == nullptr);

  // ... and gets through 50 ms later.
  skip(w, 50 * kMillisecond);
  put_under_load(w);
  w.b.core.receive(genuine, w.a.endpoint, w.now, w.b.out);
  REQUIRE(w.b.out.sent.size() == 1);
  CHECK(w.b.out.sent.front().type() == MessageType::kResponse);
  w.exchange();
  CHECK_EQ(w.b.out.delivered.size(), size_t(1));

  // Another address has its own bucket: once it has a cookie, its handshakes pass the limiter.
  const Endpoint elsewhere = Endpoint::v4(203, 0, 113, 50, 4444);
  put_under_load(w);
  const auto probe = crafted_initiation(r, w.b.core.identity().mac1_key, nullptr);
  w.b.core.receive(probe, elsewhere, w.now, w.b.out);
  REQUIRE(w.b.out.sent.size() == 1);
  const auto elsewhere_cookie = open_cookie(w.b.public_key, pop(w.b.out.sent).bytes, probe);
  REQUIRE(elsewhere_cookie.has_value());
  const uint64_t decrypt_before = w.b.core.drops(Drop::kHandshakeDecrypt);
  const uint64_t limited_before = w.b.core.drops(Drop::kRateLimited);
  for (int i = 0; i < 5; ++i)
    w.b.core.receive(crafted_initiation(r, w.b.core.identity().mac1_key, &*elsewhere_cookie), elsewhere, w.now,
                     w.b.out);
  CHECK_EQ(w.b.core.drops(Drop::kHandshakeDecrypt) - decrypt_before, uint64_t(5));
  CHECK_EQ(w.b.core.drops(Drop::kRateLimited), limited_before);
}

TEST(not_under_load_there_are_no_cookies_and_no_rate_limit_even_for_a_burst) {
  TwoPeers w;
  w.b.core.set_handshake_backlog(kUnderLoadBacklog - 1, w.now.mono);
  REQUIRE(!w.b.core.under_load(w.now.mono));
  SeededRandom r(9);
  for (int i = 0; i < 50; ++i)
    w.b.core.receive(crafted_initiation(r, w.b.core.identity().mac1_key, nullptr), w.a.endpoint, w.now, w.b.out);
  CHECK_EQ(w.b.core.drops(Drop::kHandshakeDecrypt), uint64_t(50));  // every one reached decryption
  CHECK_EQ(w.b.core.drops(Drop::kCookieSent), uint64_t(0));
  CHECK_EQ(w.b.core.drops(Drop::kRateLimited), uint64_t(0));
  CHECK(w.b.out.sent.empty());

  // And a genuine initiation from the same address in the same instant completes at once.
  w.a_sends();
  CHECK(mac2_is_zero(w.a.out.sent.front().bytes));
  w.exchange();
  CHECK_EQ(w.b.out.delivered.size(), size_t(1));
  CHECK_EQ(w.b.core.drops(Drop::kCookieSent), uint64_t(0));
  CHECK_EQ(w.b.core.drops(Drop::kRateLimited), uint64_t(0));
}

TEST(rate_limiter_shares_one_bucket_across_an_ipv6_slash_64) {
  SeededRandom rng{1};
  RateLimiter limiter{rng};
  const Nanos t = 5 * kSecond;
  Endpoint e;
  e.family = 6;
  e.addr = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1};
  for (int i = 0; i < kHandshakeBurst; ++i) {
    e.addr[15] = static_cast<uint8_t>(i);  // a different address in the same /64 each time
    CHECK(limiter.allow(e, t));
  }
  e.addr[15] = 0x77;
  CHECK(!limiter.allow(e, t));
  e.addr[7] = 2;  // the next /64 has its own bucket
  CHECK(limiter.allow(e, t));
}

TEST(rate_limiter_buckets_are_keyed_so_a_flood_cannot_choose_its_collisions) {
  // Two limiters (two devices, or one restarted) put the same sources in unrelated buckets: which
  // sources share a chain of the table depends on a key the sender never sees.
  SeededRandom rng_a{1}, rng_b{2};
  RateLimiter a{rng_a}, b{rng_b};
  size_t same = 0;
  for (uint32_t i = 0; i < 1000; ++i) {
    const Endpoint e = Endpoint::v4(10, 0, static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i), 51820);
    if (a.bucket_of(e) == b.bucket_of(e)) ++same;
    Endpoint other_port = e;
    other_port.port = 4242;
    CHECK_EQ(a.bucket_of(other_port), a.bucket_of(e));  // the port never matters
  }
  CHECK_EQ(same, size_t(0));
  // The same key gives the same buckets (what a running limiter relies on).
  SeededRandom rng_a_again{1};
  RateLimiter a_again{rng_a_again};
  const Endpoint e = Endpoint::v4(198, 51, 100, 7, 1);
  CHECK_EQ(a_again.bucket_of(e), a.bucket_of(e));
}

TEST(rate_limiter_tracks_at_most_kMaxRateLimiterSources_and_refuses_new_sources_beyond) {
  SeededRandom rng{1};
  RateLimiter limiter{rng};
  const Nanos t = 7 * kSecond;
  auto source = [](size_t i) {
    return Endpoint::v4(10, static_cast<uint8_t>(i >> 16), static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i), 51820);
  };
  for (size_t i = 0; i < kMaxRateLimiterSources; ++i) CHECK(limiter.allow(source(i), t));
  CHECK_EQ(limiter.tracked(), kMaxRateLimiterSources);
  // Full: a new source gets no bucket, and so no handshake; the table does not grow.
  CHECK(!limiter.allow(source(kMaxRateLimiterSources), t + kMillisecond));
  CHECK_EQ(limiter.tracked(), kMaxRateLimiterSources);
  // A source it already tracks keeps its bucket.
  CHECK(limiter.allow(source(3), t + kMillisecond));
  // Once the flood is over its entries are forgotten, and new sources are served again.
  CHECK(limiter.allow(source(kMaxRateLimiterSources), t + 2 * kSecond + kMillisecond));
  CHECK_EQ(limiter.tracked(), size_t(1));
}
