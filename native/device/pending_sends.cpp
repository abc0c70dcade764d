#include "device/pending_sends.h"

#include <cstring>

namespace wgvm::device {

uint8_t* PendingSends::append(const protocol::Endpoint& to, size_t size) {
  if (used_ + size > arena_.size()) arena_.resize(std::max(2 * arena_.size(), used_ + size + (256 << 10)));
  entries_.push_back({to, used_, size});
  used_ += size;
  return arena_.data() + used_ - size;
}

void PendingSends::add(const protocol::Endpoint& to, Bytes datagram) {
  std::memcpy(append(to, datagram.size()), datagram.data(), datagram.size());
}

void PendingSends::add_transport(const protocol::Endpoint& to, const protocol::OutgoingTransport& t) {
  t.write(append(to, t.size()));
  seals_.push_back({t.key, entries_.back().offset, t.size()});
}

void PendingSends::seal(CryptoPool& pool) {
  pool.run(seals_.size(), [this](size_t i) {
    const Seal& s = seals_[i];
    protocol::seal_transport(s.key, MutableBytes(arena_.data() + s.offset, s.size));
  });
  seals_.clear();  // erases the copies of the keys
}

}  // namespace wgvm::device
