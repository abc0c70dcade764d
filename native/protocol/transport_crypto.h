// Transport data's ChaCha20-Poly1305 as jobs that need nothing of the core: each carries a copy of
// its key, so the caller may run it later, on another thread, without holding the core (see
// device/crypto_pool.h). Keys are erased when a job is destroyed.
#pragma once

#include "crypto/x25519.h"
#include "protocol/endpoint.h"
#include "protocol/messages.h"

namespace wgvm::protocol {

// A transport datagram for Output::send_transport: everything but its bytes, which write() lays out.
struct OutgoingTransport {
  const crypto::Key& key;
  uint32_t receiver;  // the peer's index for this session
  uint64_t counter;
  Bytes packet;       // the IP packet (empty for a keepalive)
  size_t padding;     // zero bytes after it, encrypted too

  size_t size() const { return transport::kHeaderSize + packet.size() + padding + kTagSize; }
  // Writes header, packet and padding to `out` (size() bytes; the tag's 16 are left to seal_transport()).
  void write(uint8_t* out) const;
};

// Seals a datagram laid out by OutgoingTransport::write (tag included in its size), in place; its
// counter is the nonce.
void seal_transport(const crypto::Key& key, MutableBytes datagram);

// A received transport datagram that passed every check but its tag (Core::check_transport).
struct OpenJob {
  crypto::Key key;
  uint64_t keypair_id = 0;  // the keypair it was checked against (Keypair::id)
  uint32_t receiver = 0;    // our index, as written in the datagram
  uint64_t counter = 0;
  const uint8_t* sealed = nullptr;  // ciphertext ‖ tag
  size_t sealed_size = 0;
  uint8_t* plain = nullptr;  // where the plaintext goes; may be `sealed` itself
  size_t datagram_size = 0;
  Endpoint from;
  bool opened = false;  // set by run(): the tag authenticated

  OpenJob() = default;
  OpenJob(const OpenJob&) = default;
  OpenJob& operator=(const OpenJob&) = default;
  ~OpenJob() { secure_zero(key); }
  void run();
  Bytes plaintext() const { return {plain, sealed_size - kTagSize}; }
};

}  // namespace wgvm::protocol
