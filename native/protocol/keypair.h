// A transport session: the keys one completed handshake derived, with its counters.
#pragma once

#include "crypto/x25519.h"
#include "protocol/constants.h"
#include "protocol/replay.h"

namespace wgvm::protocol {

struct Keypair {
  crypto::Key send_key{};
  crypto::Key receive_key{};
  uint64_t send_counter = 0;  // the next nonce to use
  ReplayWindow replay;
  uint64_t id = 0;            // unique in its core: a job checked against it finds it again (OpenJob)
  uint32_t local_index = 0;   // what the peer writes as receiver in packets to us
  uint32_t remote_index = 0;  // what we write as receiver in packets to the peer
  Nanos created = 0;          // monotonic
  bool initiator = false;

  Keypair() = default;
  Keypair(const Keypair&) = delete;
  Keypair& operator=(const Keypair&) = delete;
  ~Keypair() {
    secure_zero(send_key);
    secure_zero(receive_key);
  }

  Nanos age(Nanos now) const { return now - created; }
  // REJECT_AFTER_TIME and REJECT_AFTER_MESSAGES: past either, the keypair is never used again.
  bool can_send(Nanos now) const { return age(now) < kRejectAfterTime && send_counter < kRejectAfterMessages; }
  bool can_receive(Nanos now) const { return age(now) < kRejectAfterTime; }
};

}  // namespace wgvm::protocol
