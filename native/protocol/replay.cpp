#include "protocol/replay.h"

#include <algorithm>

namespace wgvm::protocol {

bool ReplayWindow::in_window(uint64_t counter) const {
  // A sender never uses a counter this high; refusing it also keeps counter + 1 from overflowing.
  if (counter >= kRejectAfterMessages) return false;
  return counter + 1 + kReplayWindowSize >= next_;
}

bool ReplayWindow::would_accept(uint64_t counter) const {
  if (!in_window(counter)) return false;
  const uint64_t position = counter + 1;
  // Ahead of the highest: its bit is either still clear (same word as the highest, whose higher
  // bits nobody has set since the word was cleared) or in a word accept() will clear.
  if (position > next_) return true;
  return (ring_[slot_of(position)] & bit_of(position)) == 0;
}

bool ReplayWindow::accept(uint64_t counter) {
  if (!would_accept(counter)) return false;
  const uint64_t position = counter + 1;
  if (position > next_) {
    // The words between the old highest and the new one hold bits of counters that have just left
    // the window; clear them (at most the whole ring, however far the jump).
    const uint64_t current_word = word_of(next_);
    const uint64_t words_ahead = std::min(word_of(position) - current_word, kRingWords);
    for (uint64_t i = 1; i <= words_ahead; ++i) ring_[(current_word + i) & (kRingWords - 1)] = 0;
    next_ = position;
  }
  ring_[slot_of(position)] |= bit_of(position);
  return true;
}

void ReplayWindow::reset() {
  next_ = 0;
  ring_.fill(0);
}

}  // namespace wgvm::protocol
