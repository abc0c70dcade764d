// The bound on device events waiting for the JS thread (device/event_budget.h).
#include <thread>
#include <vector>

#include "device/event_budget.h"
#include "harness.h"

using namespace wgvm;
using wgvm::device::EventBudget;
using wgvm::device::kMaxPendingEvents;

TEST(event_budget_holds_at_most_its_limit_of_waiting_events_and_always_admits_the_stop_event) {
  EventBudget budget;
  for (size_t i = 0; i < kMaxPendingEvents; ++i) CHECK(budget.admit(false));
  CHECK(!budget.admit(false));
  CHECK(!budget.admit(false));
  CHECK_EQ(budget.dropped(), uint64_t(2));
  CHECK_EQ(budget.pending(), kMaxPendingEvents);
  CHECK(budget.admit(true));  // the stop event, even now
  CHECK_EQ(budget.pending(), kMaxPendingEvents + 1);
  // Delivered events make room again.
  budget.release();
  budget.release();
  CHECK(budget.admit(false));
  CHECK(!budget.admit(false));
}

TEST(event_budget_never_admits_past_its_limit_under_concurrent_producers) {
  EventBudget budget(100);
  std::atomic<int> admitted{0};
  std::vector<std::thread> producers;
  for (int t = 0; t < 4; ++t) {
    producers.emplace_back([&] {
      for (int i = 0; i < 10'000; ++i) admitted += budget.admit(false);
    });
  }
  for (auto& p : producers) p.join();
  CHECK_EQ(admitted.load(), 100);
  CHECK_EQ(budget.dropped(), uint64_t(4 * 10'000 - 100));
}
