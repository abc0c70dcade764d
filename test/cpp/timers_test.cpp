// WireGuard's timer rules (the WireGuard paper §6), driven by the fake clock.
#include "harness.h"
#include "two_peers.h"

using namespace wgvm;
using namespace wgvm::test;

namespace {

// When each initiation A sent went out, while the clock runs for `duration` with B unreachable.
std::vector<Nanos> initiation_times_unanswered(TwoPeers& w, Nanos duration) {
  std::vector<Nanos> times;
  const Nanos end = w.now.mono + duration;
  while (w.now.mono < end) {
    for (auto& d : w.a.out.sent)
      if (d.type() == MessageType::kInitiation) times.push_back(w.now.mono);
    w.a.out.sent.clear();
    w.advance(10 * kMillisecond, 10 * kMillisecond);
  }
  return times;
}

}  // namespace

TEST(handshake_retransmits_every_rekey_timeout_plus_jitter_then_gives_up) {
  TwoPeers w;
  w.a_sends();
  const auto times = initiation_times_unanswered(w, 130 * kSecond);
  // The first initiation plus one retry per REKEY_TIMEOUT while attempts ≤ MAX_TIMER_HANDSHAKES (18).
  CHECK_EQ(times.size(), size_t(1 + kMaxTimerHandshakes + 1));
  for (size_t i = 1; i < times.size(); ++i) {
    const Nanos gap = times[i] - times[i - 1];
    CHECK(gap >= kRekeyTimeout);
    CHECK(gap <= kRekeyTimeout + kRekeyTimeoutJitterMax + 10 * kMillisecond);
  }
  CHECK(times.back() - times.front() >= kRekeyAttemptTime);
  // Giving up discards what waited for the session.
  CHECK(w.b_on_a->staged.empty());
  CHECK_EQ(w.a.core.drops(Drop::kHandshakeFailed), uint64_t(1));
}

TEST(at_most_one_initiation_per_rekey_timeout) {
  TwoPeers w;
  w.a.core.initiate_handshake(*w.b_on_a, w.now, w.a.out);
  w.a.core.initiate_handshake(*w.b_on_a, w.now, w.a.out);
  w.a_sends();
  w.a_sends();
  CHECK_EQ(w.a.out.count(MessageType::kInitiation), size_t(1));
  w.skip(kRekeyTimeout);
  w.a.core.initiate_handshake(*w.b_on_a, w.now, w.a.out);
  CHECK_EQ(w.a.out.count(MessageType::kInitiation), size_t(2));
}

TEST(initiator_rekeys_when_sending_after_rekey_after_time) {
  TwoPeers w;
  w.establish();
  // Traffic both ways keeps every other timer quiet.
  for (int s = 0; s < 119; ++s) {
    w.advance(kSecond);
    w.a_sends();
    w.b_sends();
    CHECK_EQ(w.a.out.count(MessageType::kInitiation), size_t(0));
    w.exchange();
  }
  w.advance(2 * kSecond);
  w.a_sends();
  CHECK_EQ(w.a.out.count(MessageType::kInitiation), size_t(1));
  const Keypair* old_keypair = w.b_on_a->current.get();
  w.exchange();
  CHECK(w.b_on_a->current.get() != old_keypair);
  CHECK(w.b_on_a->previous.get() == old_keypair);
  CHECK_EQ(w.a.out.handshakes, 2);
}

TEST(responder_does_not_rekey_on_age_when_sending) {
  TwoPeers w;
  w.establish();
  w.skip(130 * kSecond);
  w.b_sends();
  CHECK_EQ(w.b.out.count(MessageType::kInitiation), size_t(0));
  CHECK_EQ(w.b.out.count(MessageType::kTransport), size_t(1));
}

TEST(rekey_when_the_message_counter_passes_rekey_after_messages) {
  TwoPeers w;
  w.establish();
  w.a_on_b->current->send_counter = kRekeyAfterMessages - 1;  // test hook: start near the limit
  w.b_sends();
  CHECK_EQ(w.b.out.count(MessageType::kInitiation), size_t(0));
  w.b_sends();  // the counter is now past the limit
  CHECK_EQ(w.b.out.count(MessageType::kInitiation), size_t(1));
}

TEST(nothing_is_sent_or_accepted_on_a_keypair_older_than_reject_after_time) {
  TwoPeers w;
  w.establish();
  w.a_sends();
  const auto in_flight = w.a.out.sent.front().bytes;
  w.a.out.sent.clear();
  w.skip(kRejectAfterTime);
  w.b.core.receive(in_flight, w.a.endpoint, w.now, w.b.out);
  CHECK_EQ(w.b.core.drops(Drop::kExpiredKeypair), uint64_t(1));
  CHECK_EQ(w.b.out.delivered.size(), size_t(1));  // only the packet from establish()
  w.a_sends();
  REQUIRE(w.a.out.sent.size() == 1);
  CHECK(w.a.out.sent.front().type() == MessageType::kInitiation);  // a new handshake, not old keys
  CHECK_EQ(w.b_on_a->staged.size(), size_t(1));
  w.exchange();
  CHECK_EQ(w.b.out.delivered.size(), size_t(2));
}

TEST(a_sent_message_counter_at_reject_after_messages_is_never_used) {
  TwoPeers w;
  w.establish();
  w.b_on_a->current->send_counter = kRejectAfterMessages;
  w.skip(kRekeyTimeout);
  w.a_sends();
  REQUIRE(w.a.out.sent.size() == 1);
  CHECK(w.a.out.sent.front().type() == MessageType::kInitiation);
}

TEST(keepalive_follows_received_data_after_keepalive_timeout) {
  TwoPeers w;
  w.establish();
  w.advance(kKeepaliveTimeout - 200 * kMillisecond);
  CHECK(w.b.out.sent.empty());
  w.advance(300 * kMillisecond);
  REQUIRE(w.b.out.sent.size() == 1);
  CHECK_EQ(w.b.out.sent.front().bytes.size(), size_t(32));
  // Sending data back in time cancels the keepalive.
  TwoPeers v;
  v.establish();
  v.advance(5 * kSecond);
  v.b_sends();
  v.b.out.sent.clear();
  v.advance(6 * kSecond);
  CHECK(v.b.out.sent.empty());
}

TEST(new_handshake_when_sent_data_gets_no_answer) {
  TwoPeers w;
  w.establish();
  w.advance(kKeepaliveTimeout + kSecond);
  w.exchange();  // B's keepalive answers the first packet
  w.a_sends();
  w.a.out.sent.clear();  // lost, and B never answers
  std::vector<Nanos> when;
  const Nanos sent_at = w.now.mono;
  for (int i = 0; i < 2000 && when.empty(); ++i) {
    w.advance(10 * kMillisecond, 10 * kMillisecond);
    w.b.out.sent.clear();
    if (w.a.out.count(MessageType::kInitiation)) when.push_back(w.now.mono);
    w.a.out.sent.clear();
  }
  REQUIRE(when.size() == 1);
  const Nanos waited = when[0] - sent_at;
  CHECK(waited >= kKeepaliveTimeout + kRekeyTimeout);
  CHECK(waited <= kKeepaliveTimeout + kRekeyTimeout + kRekeyTimeoutJitterMax + 10 * kMillisecond);
}

TEST(no_new_handshake_when_an_answer_arrives) {
  TwoPeers w;
  w.establish();
  w.advance(kSecond);
  w.a_sends();
  w.exchange();  // B's keepalive answers after KEEPALIVE_TIMEOUT
  for (int i = 0; i < 20; ++i) {
    w.advance(kSecond);
    w.exchange();
  }
  CHECK_EQ(w.a.out.handshakes, 1);
}

TEST(persistent_keepalive_every_interval_while_idle) {
  TwoPeers w;
  w.establish();
  w.a.core.set_persistent_keepalive(*w.b_on_a, 25, w.now, w.a.out);
  CHECK_EQ(w.a.out.sent.size(), size_t(1));  // one at once, as `wg set` does
  w.exchange();
  std::vector<Nanos> keepalives;
  for (int i = 0; i < 1000; ++i) {
    w.advance(100 * kMillisecond, 100 * kMillisecond);
    for (auto& d : w.a.out.sent)
      if (d.bytes.size() == 32) keepalives.push_back(w.now.mono);
    w.exchange();
  }
  REQUIRE(keepalives.size() >= 3);
  for (size_t i = 1; i < keepalives.size(); ++i) CHECK_EQ(keepalives[i] - keepalives[i - 1], 25 * kSecond);
  w.a.core.set_persistent_keepalive(*w.b_on_a, 0, w.now, w.a.out);
  w.advance(60 * kSecond);
  CHECK(w.a.out.sent.empty());
}

TEST(initiator_rekeys_on_receive_after_165_seconds) {
  TwoPeers w;
  w.establish();
  w.skip(kRekeyOnReceiveAge - kSecond);
  w.b_sends();
  w.exchange(1);
  CHECK_EQ(w.a.out.count(MessageType::kInitiation), size_t(0));
  w.a.out.sent.clear();
  w.skip(2 * kSecond);
  w.b_sends();
  w.exchange(1);
  CHECK_EQ(w.a.out.count(MessageType::kInitiation), size_t(1));
}

TEST(key_material_is_erased_after_three_reject_after_times_of_silence) {
  TwoPeers w;
  w.establish();
  w.exchange();
  w.advance(3 * kRejectAfterTime - 2 * kSecond, kSecond);
  w.a.out.sent.clear();
  w.b.out.sent.clear();
  CHECK(w.b_on_a->current != nullptr);
  w.advance(3 * kSecond, kSecond);
  CHECK(w.b_on_a->current == nullptr);
  CHECK(w.a_on_b->current == nullptr);
  CHECK_EQ(w.a.core.index_count(), size_t(0));
  CHECK_EQ(w.b.core.index_count(), size_t(0));
}

TEST(previous_keypair_still_receives_packets_in_flight_across_a_rekey) {
  TwoPeers w;
  w.establish();
  w.b_sends();
  const auto in_flight = w.b.out.sent.front().bytes;  // sent on the old session
  w.b.out.sent.clear();
  w.skip(kRekeyTimeout);
  w.a.core.initiate_handshake(*w.b_on_a, w.now, w.a.out);
  w.exchange();
  REQUIRE(w.b_on_a->previous != nullptr);
  w.a.core.receive(in_flight, w.b.endpoint, w.now, w.a.out);
  CHECK_EQ(w.a.out.delivered.size(), size_t(1));
}

TEST(a_core_woken_only_at_next_deadline_keeps_every_timer_and_idle_peers_add_no_deadline) {
  // The device sleeps until next_deadline() and then ticks once: driven that way, with 2,000 idle
  // peers beside the active one, the retransmissions keep their schedule, no wake-up is wasted on an
  // idle peer, and a removed peer leaves nothing behind.
  TwoPeers w;
  SeededRandom rng{7};
  for (int i = 0; i < 2000; ++i) {
    crypto::Key key;
    rng.fill(key.data(), key.size());
    w.a.core.add_peer(key);
  }
  CHECK_EQ(w.a.core.next_deadline(), kNever);
  w.a_sends();
  std::vector<Nanos> times{w.now.mono};
  w.a.out.sent.clear();
  int wakeups = 0;
  const Nanos end = w.now.mono + 130 * kSecond;
  while (w.a.core.next_deadline() <= end) {
    const Nanos step = w.a.core.next_deadline() - w.now.mono;
    CHECK(step >= 0);
    w.skip(step);
    w.a.core.tick(w.now, w.a.out);
    ++wakeups;
    for (auto& d : w.a.out.sent)
      if (d.type() == MessageType::kInitiation) times.push_back(w.now.mono);
    w.a.out.sent.clear();
  }
  CHECK_EQ(times.size(), size_t(1 + kMaxTimerHandshakes + 1));
  for (size_t i = 1; i < times.size(); ++i) {
    CHECK(times[i] - times[i - 1] >= kRekeyTimeout);
    CHECK(times[i] - times[i - 1] <= kRekeyTimeout + kRekeyTimeoutJitterMax);
  }
  // One wake-up per retransmission, and at most one more for the handshake that waited for data.
  CHECK(wakeups <= static_cast<int>(times.size()) + 1);
  // Given up: the keys are zeroed 3 × REJECT_AFTER_TIME later; then nothing is due any more.
  CHECK(w.a.core.next_deadline() != kNever);
  w.skip(w.a.core.next_deadline() - w.now.mono);
  w.a.core.tick(w.now, w.a.out);
  CHECK_EQ(w.a.core.next_deadline(), kNever);
  // A peer removed while it has a deadline takes its entry with it.
  w.a_sends();
  CHECK(w.a.core.next_deadline() != kNever);
  w.a.core.remove_peer(*w.b_on_a);
  CHECK_EQ(w.a.core.next_deadline(), kNever);
}
