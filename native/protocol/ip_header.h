// The fixed IPv4 or IPv6 header at the start of a packet, read in place: version, header and total
// length, protocol, addresses. The core reads inner packets with it, the device routes relayed
// packets with it and io/offload lays out TCP segments with it; it knows nothing of WireGuard.
// Header-only, so that io (which links no protocol code) can use it.
#pragma once

#include <optional>

#include "crypto/bytes.h"

namespace wgvm::protocol {

// Field offsets (RFC 791, RFC 8200); multi-byte fields are big-endian.
namespace ipv4 {
constexpr size_t kTos = 1, kTotalLength = 2, kIdentification = 4, kFlagsAndOffset = 6, kTtl = 8, kProtocol = 9,
                 kHeaderChecksum = 10, kSource = 12, kDestination = 16, kHeaderSize = 20;
}
namespace ipv6 {
constexpr size_t kPayloadLength = 4, kNextHeader = 6, kHopLimit = 7, kSource = 8, kDestination = 24, kHeaderSize = 40;
}

class IpHeader {
 public:
  // The header of `packet`, or nothing unless it starts with a whole fixed IPv4 (20 bytes) or IPv6
  // (40 bytes) header. The lengths the header states are not checked here: see the accessors.
  static std::optional<IpHeader> parse(Bytes packet) {
    if (packet.empty()) return std::nullopt;
    const uint8_t version = packet[0] >> 4;
    if (version == 4 && packet.size() >= ipv4::kHeaderSize) return IpHeader(packet, 4);
    if (version == 6 && packet.size() >= ipv6::kHeaderSize) return IpHeader(packet, 6);
    return std::nullopt;
  }

  // 4 or 6, which is also the address family the allowed-IPs trie takes.
  uint8_t version() const { return version_; }
  bool v4() const { return version_ == 4; }

  // IPv4: IHL × 4 as stated, which may be below 20 or past the packet; IPv6: 40 (extension headers
  // count as payload).
  size_t header_length() const { return v4() ? size_t(packet_[0] & 15) * 4 : ipv6::kHeaderSize; }

  // IPv4: the total length field; IPv6: 40 + the payload length field.
  size_t total_length() const {
    return v4() ? load_be16(ipv4::kTotalLength) : ipv6::kHeaderSize + load_be16(ipv6::kPayloadLength);
  }
  // At least the fixed header and no more than the bytes at hand (padding may follow the packet).
  bool total_length_fits() const {
    const size_t total = total_length();
    return total >= (v4() ? ipv4::kHeaderSize : ipv6::kHeaderSize) && total <= packet_.size();
  }

  // IPv4: the protocol field; IPv6: the next header field.
  uint8_t protocol() const { return packet_[v4() ? ipv4::kProtocol : ipv6::kNextHeader]; }
  // IPv4: more fragments follow or this is not the first. IPv6 says so in an extension header,
  // which protocol() then names instead of the payload's protocol.
  bool fragment() const { return v4() && (load_be16(ipv4::kFlagsAndOffset) & 0x3fff) != 0; }

  size_t address_length() const { return v4() ? 4 : 16; }
  const uint8_t* source() const { return packet_.data() + (v4() ? ipv4::kSource : ipv6::kSource); }
  const uint8_t* destination() const { return packet_.data() + (v4() ? ipv4::kDestination : ipv6::kDestination); }
  // Source then destination, which are adjacent in both versions.
  Bytes addresses() const { return Bytes(source(), 2 * address_length()); }

 private:
  IpHeader(Bytes packet, uint8_t version) : packet_(packet), version_(version) {}
  uint16_t load_be16(size_t offset) const { return uint16_t(packet_[offset] << 8 | packet_[offset + 1]); }

  Bytes packet_;
  uint8_t version_;
};

}  // namespace wgvm::protocol
