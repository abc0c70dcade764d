// Whether the device is under load: then handshakes need a cookie (mac2) and pass the per-source
// rate limit before any Diffie-Hellman is spent on them (the WireGuard paper §5.4.7). Two signals
// turn it on, and it stays on for kUnderLoadAfterTime after the last of them:
//  - a backlog: the I/O layer found at least kUnderLoadBacklog handshake messages waiting at once
//    (the kernel's and wireguard-go's signal: their handshake queue filling up);
//  - a rate: more than kUnderLoadHandshakesPerSecond / 8 handshake messages with a valid mac1 within
//    an eighth of a second. A flood paced to arrive a few datagrams at a time never builds a backlog
//    in a loop that keeps up, yet would cost a Diffie-Hellman per datagram.
#pragma once

#include <cstddef>
#include <cstdint>

#include "protocol/constants.h"

namespace wgvm::protocol {

class LoadDetector {
 public:
  // How many handshake messages the I/O layer found waiting at `now`.
  void backlog(size_t queued, Nanos now);
  // A handshake message with a valid mac1 arrived at `now` (before cookies or rate limits).
  void handshake_arrived(Nanos now);
  bool under_load(Nanos now) const { return now - last_under_load_ < kUnderLoadAfterTime; }
  // Under load, the Diffie-Hellman work of all sources together is bounded too: this takes one of the
  // kUnderLoadHandshakesPerSecond / 8 slots of the current eighth of a second, or returns false when
  // they are used up. (The per-source rate limit alone lets many addresses add up to any rate.)
  bool take_slot(Nanos now);

 private:
  static constexpr Nanos kWindow = kSecond / 8;
  Nanos last_under_load_ = INT64_MIN / 2;
  Nanos window_start_ = INT64_MIN / 2;
  uint32_t in_window_ = 0;
  Nanos slot_window_start_ = INT64_MIN / 2;
  uint32_t slots_taken_ = 0;
};

}  // namespace wgvm::protocol
