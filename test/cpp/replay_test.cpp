// The anti-replay window: the Linux kernel's WireGuard counter self-test, case for case, then the
// properties the receive path relies on (reordering, long jumps, a side-effect-free pre-filter).
#include <algorithm>
#include <cstring>
#include <iterator>
#include <numeric>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "harness.h"
#include "protocol/replay.h"

using namespace wgvm::protocol;

namespace {

// The kernel's T_LIM: one past the window, the first distance that is too old.
constexpr uint64_t kLimit = kReplayWindowSize + 1;

// Offers first..last (inclusive; counting down when first > last) to would_accept() and then
// accept(), and counts the verdicts that are not `fresh`, so that a broken loop of 8000 steps
// reports one line rather than 8000.
int count_wrong(ReplayWindow& window, uint64_t first, uint64_t last, bool fresh) {
  int wrong = 0;
  const bool down = first > last;
  for (uint64_t c = first;; c = down ? c - 1 : c + 1) {
    if (window.would_accept(c) != fresh) ++wrong;
    if (window.accept(c) != fresh) ++wrong;
    if (c == last) break;
  }
  return wrong;
}

}  // namespace

TEST(replay_constants_match_wireguard) {
  // The paper's Reject-After-Messages, 2^64 - 2^13 - 1, and the kernel's 8192-bit ring.
  CHECK_EQ(kRejectAfterMessages, 18446744073709543423ULL);
  CHECK_EQ(kReplayBitsTotal, 8192u);
  CHECK_EQ(kReplayWindowSize, 8128u);
  // A plain member of a keypair: fixed size, copyable by bytes, nothing on the heap.
  static_assert(std::is_trivially_copyable_v<ReplayWindow>);
  CHECK_EQ(sizeof(ReplayWindow), sizeof(uint64_t) + kReplayBitsTotal / 8);
}

// The 34 numbered cases of wg_packet_counter_selftest() in the Linux kernel,
// drivers/net/wireguard/selftest/counter.c (torvalds/linux), run on one window in order. Each is
// also asked of would_accept() first, which must give the same verdict.
TEST(replay_kernel_selftest_numbered_cases) {
  struct Case {
    uint64_t counter;
    bool fresh;
  };
  constexpr uint64_t R = kRejectAfterMessages;
  const Case cases[] = {
      /*  1 */ {0, true},
      /*  2 */ {1, true},
      /*  3 */ {1, false},
      /*  4 */ {9, true},
      /*  5 */ {8, true},
      /*  6 */ {7, true},
      /*  7 */ {7, false},
      /*  8 */ {kLimit, true},
      /*  9 */ {kLimit - 1, true},
      /* 10 */ {kLimit - 1, false},
      /* 11 */ {kLimit - 2, true},
      /* 12 */ {2, true},
      /* 13 */ {2, false},
      /* 14 */ {kLimit + 16, true},
      /* 15 */ {3, false},
      /* 16 */ {kLimit + 16, false},
      /* 17 */ {kLimit * 4, true},
      /* 18 */ {kLimit * 4 - (kLimit - 1), true},
      /* 19 */ {10, false},
      /* 20 */ {kLimit * 4 - kLimit, false},
      /* 21 */ {kLimit * 4 - (kLimit + 1), false},
      /* 22 */ {kLimit * 4 - (kLimit - 2), true},
      /* 23 */ {kLimit * 4 + 1 - kLimit, false},
      /* 24 */ {0, false},
      /* 25 */ {R, false},
      /* 26 */ {R - 1, true},
      /* 27 */ {R, false},
      /* 28 */ {R - 1, false},
      /* 29 */ {R - 2, true},
      /* 30 */ {R + 1, false},
      /* 31 */ {R + 2, false},
      /* 32 */ {R - 2, false},
      /* 33 */ {R - 3, true},
      /* 34 */ {0, false},
  };
  static_assert(std::size(cases) == 34);
  ReplayWindow window;
  int number = 0;
  for (const Case& c : cases) {
    ++number;
    const bool predicted = window.would_accept(c.counter);
    const bool accepted = window.accept(c.counter);
    if (predicted != c.fresh || accepted != c.fresh) {
      wgvm::test::fail(__FILE__, __LINE__,
                       "kernel case " + std::to_string(number) + " (counter " + std::to_string(c.counter) +
                           "): expected " + (c.fresh ? "fresh" : "replay") + ", would_accept " +
                           std::to_string(predicted) + ", accept " + std::to_string(accepted));
    }
  }
}

// The six loops that follow the numbered cases in the same kernel file, each on a fresh window.
TEST(replay_kernel_selftest_ascending_whole_window_then_zero) {
  ReplayWindow window;
  CHECK_EQ(count_wrong(window, 1, kReplayWindowSize, true), 0);
  CHECK(window.accept(0));  // exactly kReplayWindowSize behind: the last slot still in the window
  CHECK(!window.accept(0));
}

TEST(replay_kernel_selftest_ascending_from_two_then_one_and_zero) {
  ReplayWindow window;
  CHECK_EQ(count_wrong(window, 2, kReplayWindowSize + 1, true), 0);
  CHECK(window.accept(1));
  CHECK(!window.accept(0));  // one step too far behind
}

TEST(replay_kernel_selftest_descending_to_zero) {
  ReplayWindow window;
  CHECK_EQ(count_wrong(window, kReplayWindowSize, 0, true), 0);
}

TEST(replay_kernel_selftest_descending_from_one_past_then_zero) {
  ReplayWindow window;
  CHECK_EQ(count_wrong(window, kReplayWindowSize + 1, 1, true), 0);
  CHECK(!window.accept(0));
}

TEST(replay_kernel_selftest_descending_then_ahead_then_zero) {
  ReplayWindow window;
  CHECK_EQ(count_wrong(window, kReplayWindowSize, 1, true), 0);
  CHECK(window.accept(kReplayWindowSize + 1));
  CHECK(!window.accept(0));
}

TEST(replay_kernel_selftest_descending_then_zero_then_ahead) {
  ReplayWindow window;
  CHECK_EQ(count_wrong(window, kReplayWindowSize, 1, true), 0);
  CHECK(window.accept(0));
  CHECK(window.accept(kReplayWindowSize + 1));
}

TEST(replay_in_order_stream_across_many_ring_laps) {
  // Every word the window moves into still holds the bits of a lap ago until it is cleared; the
  // pre-filter must not mistake them for replays.
  ReplayWindow window;
  const uint64_t last = 3 * kReplayBitsTotal + 100;
  CHECK_EQ(count_wrong(window, 0, last, true), 0);
  CHECK_EQ(window.highest(), last);
  CHECK_EQ(count_wrong(window, last, last - kReplayWindowSize, false), 0);
}

TEST(replay_reordered_delivery_within_window_is_accepted_exactly_once) {
  // A burst of 5000 packets arrives shuffled, then every one of them again in another order.
  std::vector<uint64_t> counters(5000);
  std::iota(counters.begin(), counters.end(), uint64_t{100});
  std::mt19937_64 rng(6479);
  std::shuffle(counters.begin(), counters.end(), rng);
  ReplayWindow window;
  int refused_first_time = 0, accepted_again = 0;
  for (uint64_t c : counters) refused_first_time += !window.accept(c);
  std::shuffle(counters.begin(), counters.end(), rng);
  for (uint64_t c : counters) accepted_again += window.accept(c);
  CHECK_EQ(refused_first_time, 0);
  CHECK_EQ(accepted_again, 0);
  CHECK_EQ(window.highest(), uint64_t{5099});

  // Late packets right up to the back edge of the window, which crosses a wrap of the ring.
  const uint64_t top = 3 * kReplayBitsTotal + 17;
  CHECK(window.accept(top));
  std::vector<uint64_t> late(kReplayWindowSize);
  std::iota(late.begin(), late.end(), top - kReplayWindowSize);
  std::shuffle(late.begin(), late.end(), rng);
  int refused_late = 0, replayed_late = 0;
  for (uint64_t c : late) refused_late += !window.accept(c);
  for (uint64_t c : late) replayed_late += window.accept(c);
  CHECK_EQ(refused_late, 0);
  CHECK_EQ(replayed_late, 0);
  CHECK(!window.accept(top - kReplayWindowSize - 1));
  CHECK_EQ(window.highest(), top);
}

TEST(replay_far_jump_clears_the_ring_and_drops_old_counters) {
  ReplayWindow window;
  // Every bit of the ring set, so that any word the jump fails to clear shows up as a replay.
  CHECK_EQ(count_wrong(window, 0, kReplayBitsTotal - 1, true), 0);
  const uint64_t jump = 5 * kReplayBitsTotal + 150;  // several whole rings ahead
  CHECK(window.accept(jump));
  CHECK_EQ(window.highest(), jump);
  CHECK_EQ(count_wrong(window, 0, kReplayBitsTotal - 1, false), 0);  // far behind now
  CHECK(!window.accept(jump - kReplayWindowSize - 1));
  // Every counter still inside the window is fresh exactly once, whatever the ring held before.
  CHECK_EQ(count_wrong(window, jump - 1, jump - kReplayWindowSize, true), 0);
  CHECK_EQ(count_wrong(window, jump - kReplayWindowSize, jump, false), 0);
  // A jump to just below the limit works the same way.
  CHECK(window.accept(kRejectAfterMessages - 1));
  CHECK(!window.accept(jump));
  CHECK(window.accept(kRejectAfterMessages - 1 - kReplayWindowSize));
  CHECK(!window.accept(kRejectAfterMessages));
}

TEST(replay_would_accept_never_mutates) {
  static_assert(std::has_unique_object_representations_v<ReplayWindow>, "compared byte for byte");
  ReplayWindow window;
  const auto probe_all = [](const ReplayWindow& w, uint64_t around) {
    const uint64_t probes[] = {0,
                               1,
                               around,
                               around + 1,
                               around + 63,
                               around + 64,
                               around + kReplayBitsTotal,
                               around + 10 * kReplayBitsTotal,
                               around > kReplayWindowSize ? around - kReplayWindowSize : 0,
                               around > kReplayWindowSize + 1 ? around - kReplayWindowSize - 1 : 0,
                               kRejectAfterMessages - 1,
                               kRejectAfterMessages,
                               UINT64_MAX};
    for (uint64_t p : probes) (void)w.would_accept(p);
  };
  // Fresh, replayed and too-old steps alike.
  const uint64_t steps[] = {0, 5, 3, 5, 64, 8191, 8192, 20000, 0, 19999, 12000, 11000, 3 * kReplayBitsTotal + 1};
  for (uint64_t step : steps) {
    const ReplayWindow before = window;
    probe_all(window, step);
    CHECK(std::memcmp(&before, &window, sizeof window) == 0);
    const bool predicted = window.would_accept(step);
    CHECK_EQ(window.would_accept(step), predicted);  // asking twice changes nothing
    CHECK_EQ(window.accept(step), predicted);
    CHECK(!window.would_accept(step));
  }
  // Probing far ahead must not advance the window: old counters stay acceptable.
  ReplayWindow fresh;
  CHECK(fresh.would_accept(10 * kReplayBitsTotal));
  CHECK(fresh.accept(0));
  CHECK_EQ(fresh.highest(), uint64_t{0});
}

TEST(replay_reset_forgets_everything) {
  ReplayWindow window;
  CHECK(window.accept(7));
  CHECK(window.accept(100000));
  CHECK_EQ(window.highest(), uint64_t{100000});
  window.reset();
  CHECK_EQ(window.highest(), uint64_t{0});
  CHECK(window.accept(7));
  CHECK(window.accept(0));
  CHECK(!window.accept(7));
  CHECK_EQ(window.highest(), uint64_t{7});
  const ReplayWindow untouched;
  window.reset();
  CHECK(std::memcmp(&untouched, &window, sizeof window) == 0);
}
