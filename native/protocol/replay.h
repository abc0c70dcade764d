// The receive-side anti-replay window of a keypair: the ring-of-words bitmap of RFC 6479, with the
// sizes and edge rules of WireGuard (the paper §5.4.6, the Linux kernel's counter_validate).
#pragma once

#include <array>
#include <cstdint>

#include "protocol/constants.h"

namespace wgvm::protocol {

// The ring holds 8192 bits; one word of it is always being recycled, so the usable window is one
// word shorter: a counter up to 8128 behind the highest one seen can still be accepted.
constexpr uint64_t kReplayBitsTotal = 8192;
constexpr uint64_t kReplayWindowSize = kReplayBitsTotal - 64;

static_assert(kRejectAfterMessages == UINT64_MAX - kReplayBitsTotal, "REJECT_AFTER_MESSAGES is 2^64 - 2^13 - 1");

// Decides whether a transport counter is fresh. Fixed size (about 1 KiB), no allocation, not
// thread-safe: the owner serialises calls. Check with would_accept() before decrypting, and record
// with accept() only after the packet authenticated, so that forgeries cannot move the window.
class ReplayWindow {
 public:
  // True if `counter` is fresh, and records it: the caller delivers the packet.
  bool accept(uint64_t counter);
  // The verdict accept() would give now, without recording anything.
  bool would_accept(uint64_t counter) const;
  // Forgets every counter seen, as for a new keypair.
  void reset();
  // The highest counter accepted so far; 0 when none has been (as after accepting only 0).
  uint64_t highest() const { return next_ == 0 ? 0 : next_ - 1; }

 private:
  using Word = uint64_t;
  static constexpr uint64_t kWordBits = 64;
  static constexpr uint64_t kRingWords = kReplayBitsTotal / kWordBits;
  static_assert((kRingWords & (kRingWords - 1)) == 0, "ring index wraps with a mask");

  // Counters are kept shifted up by one (position = counter + 1) so that 0 can mean "nothing
  // seen yet" and counter 0 is still a fresh packet.
  static uint64_t word_of(uint64_t position) { return position / kWordBits; }
  static Word bit_of(uint64_t position) { return Word{1} << (position % kWordBits); }
  static uint64_t slot_of(uint64_t position) { return word_of(position) & (kRingWords - 1); }

  // Rejects counters past the message limit and counters that fell out of the back of the window.
  bool in_window(uint64_t counter) const;

  uint64_t next_ = 0;  // highest accepted counter + 1; 0 until something is accepted
  std::array<Word, kRingWords> ring_{};
};

}  // namespace wgvm::protocol
