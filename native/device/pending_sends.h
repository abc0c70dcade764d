// The datagrams one turn of the device's loop sends, in the order the core produced them: handshake
// messages as they are, transport data laid out but not yet sealed. The loop seals them all at once,
// in parallel and without the device's lock, then hands them to the sockets in that same order.
#pragma once

#include <vector>

#include "device/crypto_pool.h"
#include "protocol/transport_crypto.h"

namespace wgvm::device {

class PendingSends {
 public:
  void add(const protocol::Endpoint& to, Bytes datagram);
  void add_transport(const protocol::Endpoint& to, const protocol::OutgoingTransport&);
  bool empty() const { return entries_.empty(); }
  size_t unsealed() const { return seals_.size(); }

  // Seals every transport datagram; the copies of their keys are erased after.
  void seal(CryptoPool&);
  // Passes each datagram to send(to, bytes) in the order they were added, and forgets them; the
  // bytes stay valid until the next add. Call seal() first if anything is unsealed.
  template <typename Send>
  void drain(Send&& send) {
    for (const Entry& e : entries_) send(e.to, Bytes(arena_.data() + e.offset, e.size));
    entries_.clear();
    used_ = 0;
  }

 private:
  struct Entry {
    protocol::Endpoint to;
    size_t offset, size;  // in arena_
  };
  struct Seal {
    crypto::Key key;
    size_t offset, size;
    // Copies (a growing vector) and the end of a turn that never sealed leave no key behind.
    ~Seal() { secure_zero(key); }
  };
  uint8_t* append(const protocol::Endpoint& to, size_t size);

  std::vector<uint8_t> arena_;  // grows, never shrinks: its size is its capacity, used_ the fill
  size_t used_ = 0;
  std::vector<Entry> entries_;
  std::vector<Seal> seals_;
};

}  // namespace wgvm::device
