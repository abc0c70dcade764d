// The device's one lock. The loop takes it for each step of a turn and lets go around the crypto;
// control calls (UAPI, snapshots, counters) take it in between and go first: the loop, which wants it
// back at once after each step, would otherwise win it again and again (std::mutex is not fair), and
// a `wg show` could wait behind many turns.
#pragma once

#include <atomic>
#include <mutex>

namespace wgvm::device {

class DeviceLock {
 public:
  // For the loop (std::unique_lock<DeviceLock>): waits while a control call waits.
  void lock() {
    for (int waiting; (waiting = control_waiting_.load(std::memory_order_acquire)) > 0;)
      control_waiting_.wait(waiting, std::memory_order_acquire);
    mu_.lock();
  }
  void unlock() { mu_.unlock(); }

  // For control calls, ahead of the loop.
  class Control {
   public:
    explicit Control(DeviceLock& l) : l_(l) {
      l_.control_waiting_.fetch_add(1, std::memory_order_acq_rel);
      l_.mu_.lock();
      if (l_.control_waiting_.fetch_sub(1, std::memory_order_acq_rel) == 1) l_.control_waiting_.notify_all();
    }
    ~Control() { l_.mu_.unlock(); }
    Control(const Control&) = delete;
    Control& operator=(const Control&) = delete;

   private:
    DeviceLock& l_;
  };

 private:
  std::mutex mu_;
  std::atomic<int> control_waiting_{0};
};

}  // namespace wgvm::device
