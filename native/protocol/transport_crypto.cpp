#include "protocol/transport_crypto.h"

#include <cstring>

#include "crypto/aead.h"

namespace wgvm::protocol {

void OutgoingTransport::write(uint8_t* out) const {
  write_header(out, MessageType::kTransport);
  store_le32(out + transport::kReceiver, receiver);
  store_le64(out + transport::kCounter, counter);
  uint8_t* body = out + transport::kHeaderSize;
  if (!packet.empty()) std::memcpy(body, packet.data(), packet.size());
  std::memset(body + packet.size(), 0, padding);
}

void seal_transport(const crypto::Key& key, MutableBytes datagram) {
  const auto nonce = crypto::counter_nonce(load_le64(datagram.data() + transport::kCounter));
  uint8_t* body = datagram.data() + transport::kHeaderSize;
  crypto::aead_seal(key.data(), nonce.data(), Bytes(body, datagram.size() - transport::kHeaderSize - kTagSize), {}, body);
}

void OpenJob::run() {
  const auto nonce = crypto::counter_nonce(counter);
  opened = crypto::aead_open(key.data(), nonce.data(), Bytes(sealed, sealed_size), {}, plain);
}

}  // namespace wgvm::protocol
