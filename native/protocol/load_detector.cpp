#include "protocol/load_detector.h"

namespace wgvm::protocol {

void LoadDetector::backlog(size_t queued, Nanos now) {
  if (queued >= kUnderLoadBacklog) last_under_load_ = now;
}

void LoadDetector::handshake_arrived(Nanos now) {
  if (now - window_start_ >= kWindow) {
    window_start_ = now;
    in_window_ = 0;
  }
  if (++in_window_ > kUnderLoadHandshakesPerSecond / 8) last_under_load_ = now;
}

bool LoadDetector::take_slot(Nanos now) {
  if (now - slot_window_start_ >= kWindow) {
    slot_window_start_ = now;
    slots_taken_ = 0;
  }
  if (slots_taken_ >= kUnderLoadHandshakesPerSecond / 8) return false;
  ++slots_taken_;
  return true;
}

}  // namespace wgvm::protocol
