// WireGuard's four message formats (the WireGuard paper §5.4): types, sizes and field offsets.
// All integers on the wire are little-endian.
#pragma once

#include <cstdint>
#include <cstring>

#include "crypto/bytes.h"

namespace wgvm::protocol {

enum class MessageType : uint8_t { kInitiation = 1, kResponse = 2, kCookieReply = 3, kTransport = 4 };

constexpr size_t kKeySize = 32;
constexpr size_t kTagSize = 16;
constexpr size_t kMacSize = 16;
constexpr size_t kTimestampSize = 12;
constexpr size_t kCookieNonceSize = 24;

// Initiation: type ‖ reserved(3) ‖ sender ‖ ephemeral ‖ static(32+16) ‖ timestamp(12+16) ‖ mac1 ‖ mac2
namespace initiation {
constexpr size_t kSender = 4, kEphemeral = 8, kStatic = 40, kTimestamp = 88, kMac1 = 116, kMac2 = 132, kSize = 148;
}
// Response: type ‖ reserved(3) ‖ sender ‖ receiver ‖ ephemeral ‖ empty(0+16) ‖ mac1 ‖ mac2
namespace response {
constexpr size_t kSender = 4, kReceiver = 8, kEphemeral = 12, kEmpty = 44, kMac1 = 60, kMac2 = 76, kSize = 92;
}
// Cookie reply: type ‖ reserved(3) ‖ receiver ‖ nonce(24) ‖ cookie(16+16)
namespace cookie_reply {
constexpr size_t kReceiver = 4, kNonce = 8, kCookie = 32, kSize = 64;
}
// Transport data: type ‖ reserved(3) ‖ receiver ‖ counter(8) ‖ packet(n+16)
namespace transport {
constexpr size_t kReceiver = 4, kCounter = 8, kHeaderSize = 16, kMinSize = kHeaderSize + kTagSize;  // 32: a keepalive
}

inline uint32_t load_le32(const uint8_t* p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}
inline void store_le32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = uint8_t(v >> (8 * i));
}
inline uint64_t load_le64(const uint8_t* p) { return uint64_t(load_le32(p)) | uint64_t(load_le32(p + 4)) << 32; }
inline void store_le64(uint8_t* p, uint64_t v) {
  store_le32(p, uint32_t(v));
  store_le32(p + 4, uint32_t(v >> 32));
}

// Transport data of a size Core::check_transport takes; anything else goes to Core::receive.
inline bool is_transport(Bytes d) {
  return d.size() >= transport::kMinSize && load_le32(d.data()) == static_cast<uint32_t>(MessageType::kTransport);
}

// Writes the 4-byte message header: type and three zero reserved bytes.
inline void write_header(uint8_t* msg, MessageType type) {
  msg[0] = static_cast<uint8_t>(type);
  msg[1] = msg[2] = msg[3] = 0;
}

}  // namespace wgvm::protocol
