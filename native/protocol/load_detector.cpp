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

}  // namespace wgvm::protocol
