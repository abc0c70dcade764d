// Under-load detection (LoadDetector, through Core): a backlog of handshakes found waiting, or a
// rate of mac1-valid handshake messages above kUnderLoadHandshakesPerSecond (counted per eighth of a
// second), turns cookies on for kUnderLoadAfterTime. The rate catches a flood that arrives a few
// datagrams at a time, which never shows as a backlog but would cost a Diffie-Hellman each. Under
// load, all sources together also share one Diffie-Hellman budget per eighth of a second.
#include <cstring>
#include <vector>

#include "crypto/aead.h"
#include "harness.h"
#include "two_peers.h"

using namespace wgvm;
using namespace wgvm::test;

namespace {

constexpr uint32_t kPerWindow = kUnderLoadHandshakesPerSecond / 8;
constexpr Nanos kWindow = kSecond / 8;

// An initiation with a valid mac1 for `mac1_key` and noise everywhere else, as a flooder who knows
// the responder's public key sends.
std::vector<uint8_t> flood_initiation(Random& r, const crypto::Hash& mac1_key, bool valid_mac1 = true) {
  std::vector<uint8_t> m(initiation::kSize);
  r.fill(m.data(), m.size());
  write_header(m.data(), MessageType::kInitiation);
  if (valid_mac1) {
    const crypto::Mac mac1 = crypto::mac(mac1_key, {Bytes(m.data(), initiation::kMac1)});
    std::memcpy(m.data() + initiation::kMac1, mac1.data(), kMacSize);
  }
  std::memset(m.data() + initiation::kMac2, 0, kMacSize);
  return m;
}

// Feeds `count` flood initiations to b, one every `interval`, each from its own source port.
// Returns how many cookie replies b sent to the flooder (taken out of b's outbox).
size_t flood(TwoPeers& w, int count, Nanos interval, bool valid_mac1 = true) {
  SeededRandom r(uint64_t(w.now.mono) ^ uint64_t(count));
  size_t cookies = 0;
  for (int i = 0; i < count; ++i) {
    const Endpoint from = Endpoint::v4(203, 0, 113, 7, uint16_t(1024 + i % 60000));
    w.b.core.receive(flood_initiation(r, w.b.core.identity().mac1_key, valid_mac1), from, w.now, w.b.out);
    while (!w.b.out.sent.empty() && w.b.out.sent.back().to == from) {
      cookies += w.b.out.sent.back().type() == MessageType::kCookieReply;
      w.b.out.sent.pop_back();
    }
    w.now.mono += interval;
    w.now.wall += interval;
  }
  return cookies;
}

// The cookie in b's reply to `answered`, opened as the initiator does (paper §5.4.7).
crypto::Mac open_cookie(const TwoPeers& w, const std::vector<uint8_t>& reply, const std::vector<uint8_t>& answered) {
  static const uint8_t label[8] = {'c', 'o', 'o', 'k', 'i', 'e', '-', '-'};
  const crypto::Hash key = crypto::blake2s({Bytes(label, 8), w.b.public_key});
  crypto::Mac cookie{};
  if (!crypto::xaead_open(key.data(), reply.data() + cookie_reply::kNonce, Bytes(reply.data() + cookie_reply::kCookie, 32),
                          Bytes(answered.data() + initiation::kMac1, kMacSize), cookie.data()))
    fail(__FILE__, __LINE__, "cookie reply does not open");
  return cookie;
}

}  // namespace

TEST(load_detector_slots_allow_one_windows_worth_then_refuse_until_the_next_window) {
  LoadDetector d;
  const Nanos t0 = 9 * kSecond;
  for (uint32_t i = 0; i < kPerWindow; ++i) CHECK(d.take_slot(t0 + Nanos(i)));
  CHECK(!d.take_slot(t0 + kPerWindow));
  CHECK(!d.take_slot(t0 + kWindow - 1));
  CHECK(d.take_slot(t0 + kWindow));
}

// Under load, many sources each within their own rate limit (each has its cookie) still share one
// Diffie-Hellman budget: past it, handshakes are dropped until the next window.
TEST(core_under_load_many_sources_with_cookies_share_one_diffie_hellman_budget_per_window) {
  TwoPeers w;
  SeededRandom r(5);
  const int sources = int(kPerWindow) + 175;
  std::vector<std::vector<uint8_t>> with_mac2;
  for (int i = 0; i < sources; ++i) {
    const Endpoint from = Endpoint::v4(198, 51, uint8_t(i >> 8), uint8_t(i), 4000);
    w.b.core.set_handshake_backlog(kUnderLoadBacklog, w.now.mono);
    std::vector<uint8_t> first = flood_initiation(r, w.b.core.identity().mac1_key);
    w.b.core.receive(first, from, w.now, w.b.out);
    REQUIRE(w.b.out.sent.size() == 1);
    const crypto::Mac cookie = open_cookie(w, w.b.out.sent.back().bytes, first);
    w.b.out.sent.clear();
    std::vector<uint8_t> again = flood_initiation(r, w.b.core.identity().mac1_key);
    const crypto::Mac mac2 = crypto::mac(cookie, {Bytes(again.data(), initiation::kMac2)});
    std::memcpy(again.data() + initiation::kMac2, mac2.data(), kMacSize);
    with_mac2.push_back(std::move(again));
  }
  w.skip(kWindow);  // a fresh window; still under load
  for (int i = 0; i < sources; ++i)
    w.b.core.receive(with_mac2[size_t(i)], Endpoint::v4(198, 51, uint8_t(i >> 8), uint8_t(i), 4000), w.now, w.b.out);
  CHECK_EQ(w.b.core.drops(Drop::kRateLimited), uint64_t(0));
  CHECK_EQ(w.b.core.handshakes_admitted(), uint64_t(kPerWindow));
  CHECK_EQ(w.b.core.drops(Drop::kHandshakeDecrypt), uint64_t(kPerWindow));
  CHECK_EQ(w.b.core.drops(Drop::kHandshakeBudget), uint64_t(sources - int(kPerWindow)));

  // The next window has slots again, for a genuine peer too.
  w.skip(kWindow);
  REQUIRE(w.b.core.under_load(w.now.mono));
  w.a_sends();
  w.exchange();  // initiation → cookie reply
  w.advance(kRekeyTimeout + kRekeyTimeoutJitterMax);
  w.b.core.set_handshake_backlog(kUnderLoadBacklog, w.now.mono);
  w.exchange();  // the retry with mac2 takes a slot and completes
  CHECK_EQ(w.a.out.handshakes, 1);
  CHECK_EQ(w.b.out.delivered.size(), size_t(1));
}

TEST(load_detector_rate_turns_on_past_the_per_window_limit_and_stays_on_one_second) {
  LoadDetector d;
  const Nanos t0 = 5 * kSecond;
  for (uint32_t i = 0; i < kPerWindow; ++i) d.handshake_arrived(t0 + Nanos(i));
  CHECK(!d.under_load(t0 + kPerWindow));  // exactly the limit: not yet
  d.handshake_arrived(t0 + kPerWindow);
  CHECK(d.under_load(t0 + kPerWindow));
  CHECK(d.under_load(t0 + kPerWindow + kUnderLoadAfterTime - 1));
  CHECK(!d.under_load(t0 + kPerWindow + kUnderLoadAfterTime));
}

TEST(load_detector_a_steady_rate_at_the_limit_never_turns_it_on_and_twice_that_does_within_a_window) {
  LoadDetector at_limit, twice;
  const Nanos step = kSecond / kUnderLoadHandshakesPerSecond;
  Nanos t = 7 * kSecond, first_on = -1;
  for (int i = 0; i < 5 * int(kUnderLoadHandshakesPerSecond); ++i, t += step) {
    at_limit.handshake_arrived(t);
    CHECK(!at_limit.under_load(t));
    twice.handshake_arrived(t);
    twice.handshake_arrived(t + step / 2);
    if (first_on < 0 && twice.under_load(t + step / 2)) first_on = t + step / 2 - 7 * kSecond;
  }
  CHECK(first_on >= 0);
  CHECK(first_on < kWindow);
}

TEST(load_detector_stays_on_while_a_flood_goes_on_and_ends_one_second_after_it) {
  LoadDetector d;
  Nanos t = 3 * kSecond;
  const Nanos step = kSecond / (4 * kUnderLoadHandshakesPerSecond);  // 4x the limit, for 10 s
  for (int i = 0; i < 40 * int(kUnderLoadHandshakesPerSecond); ++i, t += step) d.handshake_arrived(t);
  const Nanos last = t - step;
  CHECK(d.under_load(last));
  CHECK(d.under_load(last + kUnderLoadAfterTime - kWindow));
  CHECK(!d.under_load(last + kUnderLoadAfterTime));
}

TEST(load_detector_backlog_at_the_threshold_turns_it_on_below_it_does_not) {
  LoadDetector d;
  d.backlog(kUnderLoadBacklog - 1, kSecond);
  CHECK(!d.under_load(kSecond));
  d.backlog(kUnderLoadBacklog, 2 * kSecond);
  CHECK(d.under_load(2 * kSecond));
  d.backlog(0, 2 * kSecond + kSecond / 2);  // a low backlog does not end it early
  CHECK(d.under_load(3 * kSecond - 1));
  CHECK(!d.under_load(3 * kSecond));
}

// End to end in the core: a flood paced one initiation at a time (never a backlog) at twice the
// limit gets Diffie-Hellman for the first window's worth only, then cookie replies.
TEST(core_paced_flood_of_valid_mac1_initiations_turns_on_cookies_after_one_window) {
  TwoPeers w;
  const int count = 4 * int(kUnderLoadHandshakesPerSecond);  // 2 s at 2000 per second
  const size_t cookies = flood(w, count, kSecond / (2 * kUnderLoadHandshakesPerSecond));
  CHECK_EQ(w.b.core.drops(Drop::kHandshakeDecrypt), uint64_t(kPerWindow));
  CHECK_EQ(w.b.core.handshakes_admitted(), uint64_t(kPerWindow));
  CHECK_EQ(w.b.core.drops(Drop::kCookieSent), uint64_t(count - int(kPerWindow)));
  CHECK_EQ(cookies, size_t(count - int(kPerWindow)));
  CHECK(w.b.core.under_load(w.now.mono));
}

TEST(core_paced_flood_below_the_rate_is_answered_without_cookies) {
  TwoPeers w;
  const int count = int(kUnderLoadHandshakesPerSecond);  // 2 s at half the limit
  flood(w, count, 2 * kSecond / kUnderLoadHandshakesPerSecond);
  CHECK_EQ(w.b.core.drops(Drop::kHandshakeDecrypt), uint64_t(count));
  CHECK_EQ(w.b.core.drops(Drop::kCookieSent), uint64_t(0));
  CHECK(!w.b.core.under_load(w.now.mono));
}

TEST(core_datagrams_with_a_bad_mac1_never_put_it_under_load) {
  TwoPeers w;
  const int count = 20 * int(kUnderLoadHandshakesPerSecond);  // 20x the limit, in 1 s
  CHECK_EQ(flood(w, count, kSecond / count, /*valid_mac1=*/false), size_t(0));
  CHECK_EQ(w.b.core.drops(Drop::kBadMac1), uint64_t(count));
  CHECK(!w.b.core.under_load(w.now.mono));
}

// While a paced flood keeps it under load, a legitimate initiator still gets through: its first
// initiation earns a cookie, the retry (REKEY_TIMEOUT later, the flood still on) carries mac2 and
// completes the handshake.
TEST(core_a_legitimate_peer_completes_its_handshake_during_a_paced_flood_with_one_cookie_round_trip) {
  TwoPeers w;
  const Nanos interval = kSecond / (2 * kUnderLoadHandshakesPerSecond);
  const int per_100ms = int(100 * kMillisecond / interval);
  flood(w, 2 * int(kUnderLoadHandshakesPerSecond), interval);
  REQUIRE(w.b.core.under_load(w.now.mono));

  w.a_sends();
  w.exchange();  // initiation → cookie reply → taken by a
  CHECK_EQ(w.b.out.count(MessageType::kResponse), size_t(0));
  CHECK_EQ(w.a.out.handshakes, 0);
  const uint64_t cookies_before_retry = w.b.core.drops(Drop::kCookieSent);
  for (Nanos t = 0; t < kRekeyTimeout + kRekeyTimeoutJitterMax && w.a.out.sent.empty(); t += 100 * kMillisecond) {
    flood(w, per_100ms, interval);  // 100 ms of flood, then the timers
    w.a.core.tick(w.now, w.a.out);
    w.b.core.tick(w.now, w.b.out);
  }
  REQUIRE(w.a.out.sent.size() == 1);  // the retry
  CHECK(w.b.core.under_load(w.now.mono));
  w.exchange();
  CHECK_EQ(w.a.out.handshakes, 1);
  CHECK_EQ(w.b.out.delivered.size(), size_t(1));
  CHECK_EQ(w.b.core.drops(Drop::kRateLimited), uint64_t(0));
  CHECK(w.b.core.drops(Drop::kCookieSent) > cookies_before_retry);  // the flood was answered with cookies throughout
}
