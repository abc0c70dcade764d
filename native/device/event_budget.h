// How many device events may wait for the JS thread at once. The JS thread can stall (a long
// synchronous task, a debugger); meanwhile the device thread must not queue events without bound.
// Handshake and endpoint events past the budget are dropped and counted: they are hints, and the
// snapshot the hub polls every second carries the same facts. The stop event is always let through:
// it is the last one, and the hub must learn of it.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace wgvm::device {

constexpr size_t kMaxPendingEvents = 1024;

class EventBudget {
 public:
  explicit EventBudget(size_t limit = kMaxPendingEvents) : limit_(limit) {}

  // Takes a place for one event (always for an essential one); false when the budget is spent.
  bool admit(bool essential) {
    size_t pending = pending_.load(std::memory_order_relaxed);
    do {
      if (!essential && pending >= limit_) {
        dropped_.fetch_add(1, std::memory_order_relaxed);
        return false;
      }
    } while (!pending_.compare_exchange_weak(pending, pending + 1, std::memory_order_relaxed));
    return true;
  }

  // Gives the place back once the event was delivered (or could not be queued).
  void release() { pending_.fetch_sub(1, std::memory_order_relaxed); }

  size_t pending() const { return pending_.load(std::memory_order_relaxed); }
  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }

 private:
  const size_t limit_;
  std::atomic<size_t> pending_{0};
  std::atomic<uint64_t> dropped_{0};
};

}  // namespace wgvm::device
