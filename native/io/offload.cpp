#include "io/offload.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

#include "protocol/ip_header.h"

namespace wgvm::io {
namespace {

namespace ipv4 = protocol::ipv4;
namespace ipv6 = protocol::ipv6;
using protocol::IpHeader;

constexpr uint8_t kProtoTcp = 6, kProtoIcmp = 1, kProtoIcmpv6 = 58;
constexpr uint8_t kFin = 0x01, kSyn = 0x02, kRst = 0x04, kPsh = 0x08, kAck = 0x10, kUrg = 0x20, kCwr = 0x80;
constexpr size_t kMaxIpPacket = 65535;
constexpr size_t kMaxSegments = 65535 / 48 + 1;  // a 64 KB super-packet at Linux's smallest MSS (48)
constexpr size_t kCoalesceLookback = 16;  // items searched for a packet's flow

uint16_t load16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}
void store16(uint8_t* p, uint16_t v) { std::memcpy(p, &v, 2); }
uint16_t load_be16(const uint8_t* p) { return uint16_t(p[0] << 8 | p[1]); }
void store_be16(uint8_t* p, size_t v) {
  p[0] = uint8_t(v >> 8);
  p[1] = uint8_t(v);
}
uint32_t load_be32(const uint8_t* p) { return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3]; }
void store_be32(uint8_t* p, uint32_t v) {
  p[0] = uint8_t(v >> 24);
  p[1] = uint8_t(v >> 16);
  p[2] = uint8_t(v >> 8);
  p[3] = uint8_t(v);
}

// The sum is taken in host byte order and stored in host byte order (RFC 1071 §2(B)).
uint64_t sum_words(const uint8_t* p, size_t len, uint64_t sum) {
  while (len >= 4) {
    uint32_t w;
    std::memcpy(&w, p, 4);
    sum += w;
    p += 4;
    len -= 4;
  }
  if (len >= 2) {
    sum += load16(p);
    p += 2;
    len -= 2;
  }
  if (len) {
    uint16_t last = 0;
    std::memcpy(&last, p, 1);  // the odd byte, padded with a zero byte after it
    sum += last;
  }
  return sum;
}

uint16_t fold(uint64_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return uint16_t(sum);
}

// Writes the length field of an IP packet of `total` bytes; for IPv4 also the header checksum,
// which covers it (so any other header field must be written first).
void set_ip_length(uint8_t* ip, uint8_t version, size_t header_length, size_t total) {
  if (version == 6) return store_be16(ip + ipv6::kPayloadLength, total - ipv6::kHeaderSize);
  store_be16(ip + ipv4::kTotalLength, total);
  store16(ip + ipv4::kHeaderChecksum, 0);
  store16(ip + ipv4::kHeaderChecksum, uint16_t(~checksum_fold(ip, header_length, 0)));
}

// Where an IP packet carrying TCP keeps its TCP header and its payload, from the headers alone: the
// IP lengths are not looked at. False if it carries something else or the headers do not fit.
struct TcpLayout {
  uint8_t version;
  size_t l4, headers;  // offsets of the TCP header and of the payload
};
bool tcp_layout(Bytes p, const IpHeader& ip, TcpLayout* out) {
  const size_t l4 = ip.header_length();
  if (ip.protocol() != kProtoTcp || l4 < ipv4::kHeaderSize /* IHL < 5 */ || p.size() < l4 + 20) return false;
  const size_t th = size_t(p[l4 + 12] >> 4) * 4;
  if (th < 20 || p.size() < l4 + th) return false;
  *out = {ip.version(), l4, l4 + th};
  return true;
}

// The layout of a TCP packet the coalescer may merge: unfragmented, its IP length the packet's own.
bool plain_tcp_layout(Bytes p, const IpHeader& ip, TcpLayout* out) {
  return !ip.fragment() && ip.total_length() == p.size() && tcp_layout(p, ip, out);
}

}  // namespace

VnetHeader read_vnet_header(const uint8_t* p) {
  VnetHeader h;
  h.flags = p[0];
  h.gso_type = p[1];
  h.hdr_len = load16(p + 2);
  h.gso_size = load16(p + 4);
  h.csum_start = load16(p + 6);
  h.csum_offset = load16(p + 8);
  return h;
}

void write_vnet_header(const VnetHeader& h, uint8_t* p) {
  p[0] = h.flags;
  p[1] = h.gso_type;
  store16(p + 2, h.hdr_len);
  store16(p + 4, h.gso_size);
  store16(p + 6, h.csum_start);
  store16(p + 8, h.csum_offset);
}

uint16_t checksum_fold(const uint8_t* data, size_t len, uint64_t initial) { return fold(sum_words(data, len, initial)); }

uint64_t pseudo_header_sum(const uint8_t* ip, uint8_t protocol, size_t l4_len) {
  const bool v4 = ip[0] >> 4 == 4;
  uint64_t sum = v4 ? sum_words(ip + ipv4::kSource, 8, 0) : sum_words(ip + ipv6::kSource, 32, 0);
  return sum + htons(protocol) + htons(uint16_t(l4_len)) + (v4 ? 0 : htons(uint16_t(l4_len >> 16)));
}

bool may_overtake(Bytes p) {
  const auto ip = IpHeader::parse(p);
  if (!ip) return false;
  // protocol() is IPv6's next header: a packet with an extension header first keeps its place.
  if (ip->protocol() == (ip->v4() ? kProtoIcmp : kProtoIcmpv6)) return true;
  const size_t l4 = ip->header_length();
  if (ip->protocol() != kProtoTcp || p.size() < l4 + 20) return false;
  const bool no_data = p.size() <= l4 + size_t(p[l4 + 12] >> 4) * 4;
  return no_data && (p[l4 + 13] & (kFin | kRst)) == 0;  // a FIN or RST must follow its flow's data
}

// ---------------------------------------------------------------------------------------------
// Segmenter

bool Segmenter::split(Bytes frame) {
  packets_.clear();
  if (frame.size() <= kVnetHeaderLen) return false;
  const VnetHeader h = read_vnet_header(frame.data());
  const Bytes packet = frame.subspan(kVnetHeaderLen);
  const uint8_t gso = h.gso_type & ~kGsoEcn;
  if (gso == kGsoTcpV4 || gso == kGsoTcpV6) return split_tcp(h, packet);
  if (gso != kGsoNone) return false;  // UDP segmentation (USO) is never switched on
  if (!(h.flags & kNeedsCsum)) {
    packets_.push_back(packet);
    return true;
  }
  // The field holds the pseudo-header sum; the rest from csum_start is ours to add.
  const size_t start = h.csum_start, field = size_t(h.csum_start) + h.csum_offset;
  if (start >= packet.size() || field + 2 > packet.size()) return false;
  storage_.assign(packet.begin(), packet.end());
  uint16_t c = uint16_t(~checksum_fold(storage_.data() + start, storage_.size() - start, 0));
  if (c == 0) c = 0xffff;  // UDP sends zero as all ones; TCP reads both as zero
  store16(storage_.data() + field, c);
  packets_.push_back(Bytes(storage_.data(), storage_.size()));
  return true;
}

bool Segmenter::split_tcp(const VnetHeader& h, Bytes p) {
  const uint8_t want = (h.gso_type & ~kGsoEcn) == kGsoTcpV4 ? 4 : 6;
  const auto ip = IpHeader::parse(p);
  if (!ip || ip->version() != want) return false;
  // The kernel's lengths in a TSO packet's IP header are not to be trusted: lay out from the headers.
  TcpLayout layout{};
  if (!tcp_layout(p, *ip, &layout) || h.gso_size == 0) return false;
  const size_t l4 = layout.l4, headers = layout.headers, th = headers - l4;
  const size_t mss = h.gso_size;
  const size_t payload = p.size() - headers;
  const size_t n = payload == 0 ? 1 : (payload + mss - 1) / mss;
  if (n > kMaxSegments || headers + std::min(payload, mss) > kMaxIpPacket) return false;

  storage_.resize(n * headers + payload);
  const uint32_t seq = load_be32(p.data() + l4 + 4);
  const uint16_t id = want == 4 ? load_be16(p.data() + ipv4::kIdentification) : 0;
  const uint8_t flags = p[l4 + 13];
  uint8_t* out = storage_.data();
  for (size_t i = 0; i < n; ++i) {
    const size_t len = std::min(mss, payload - i * mss);
    std::memcpy(out, p.data(), headers);
    std::memcpy(out + headers, p.data() + headers + i * mss, len);
    if (want == 4) store_be16(out + ipv4::kIdentification, uint16_t(id + i));
    set_ip_length(out, want, l4, headers + len);
    uint8_t* tcp = out + l4;
    store_be32(tcp + 4, seq + uint32_t(i * mss));
    uint8_t f = flags;
    if (i + 1 < n) f &= uint8_t(~(kFin | kPsh));  // the end of the data is the last segment's
    if (i > 0) f &= uint8_t(~kCwr);               // the window reduction is signalled once
    tcp[13] = f;
    store16(tcp + 16, 0);
    const size_t l4_len = th + len;
    store16(tcp + 16, uint16_t(~checksum_fold(tcp, l4_len, pseudo_header_sum(out, kProtoTcp, l4_len))));
    packets_.push_back(Bytes(out, headers + len));
    out += headers + len;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Coalescer

void Coalescer::add(Bytes p) {
  const auto ip = IpHeader::parse(p);
  TcpLayout t{};
  const bool tcp = ip && plain_tcp_layout(p, *ip, &t);
  if (tcp) {
    // The flow: both addresses (where an item of the same version has them too) and both ports.
    const Bytes addresses = ip->addresses();
    const size_t addresses_at = size_t(addresses.data() - p.data());
    const size_t lookback = std::min(count_, kCoalesceLookback);
    for (size_t k = 1; k <= lookback; ++k) {
      Item& item = items_[count_ - k];
      if (!item.tcp || item.version != t.version) continue;
      const uint8_t* q = item.frame.data() + kVnetHeaderLen;
      const bool same_flow = std::memcmp(q + addresses_at, addresses.data(), addresses.size()) == 0 &&
                             std::memcmp(q + item.l4, p.data() + t.l4, 4) == 0;
      if (!same_flow) continue;
      if (try_merge(item, p, t.l4, t.headers)) return;
      break;  // the flow's latest item cannot take it: a new one keeps the flow in order
    }
  }
  if (count_ == items_.size()) items_.emplace_back();
  Item& item = items_[count_++];
  item.frame.assign(kVnetHeaderLen, 0);
  item.frame.insert(item.frame.end(), p.begin(), p.end());
  item.tcp = tcp;
  item.open = false;
  item.segments = 1;
  if (!tcp) return;
  item.version = t.version;
  item.l4 = t.l4;
  item.headers = t.headers;
  const uint8_t flags = p[t.l4 + 13];
  const size_t payload = p.size() - t.headers;
  item.mss = uint16_t(payload);
  item.next_seq = load_be32(p.data() + t.l4 + 4) + uint32_t(payload);
  item.open = flags == kAck && payload > 0;  // PSH or any other flag: it goes out alone
}

bool Coalescer::try_merge(Item& item, Bytes p, size_t l4, size_t headers) {
  if (!item.open || headers != item.headers || l4 != item.l4) return false;
  const uint8_t* q = item.frame.data() + kVnetHeaderLen;
  const uint8_t flags = p[l4 + 13];
  if ((flags & ~kPsh) != kAck) return false;
  const size_t payload = p.size() - headers;
  if (payload == 0 || payload > item.mss || item.frame.size() - kVnetHeaderLen + payload > kMaxIpPacket) return false;
  if (load_be32(p.data() + l4 + 4) != item.next_seq) return false;
  // IP fields that must match: IPv4 TOS, DF and TTL; IPv6 traffic class, flow label and hop limit.
  if (item.version == 4) {
    using namespace ipv4;
    if (p[kTos] != q[kTos] || p[kFlagsAndOffset] != q[kFlagsAndOffset] || p[kTtl] != q[kTtl]) return false;
  } else {
    if (std::memcmp(p.data(), q, 4) != 0 || p[ipv6::kHopLimit] != q[ipv6::kHopLimit]) return false;
  }
  // TCP: ACK number, window, and options (timestamps included) byte for byte.
  if (std::memcmp(p.data() + l4 + 8, q + l4 + 8, 4) != 0 || std::memcmp(p.data() + l4 + 14, q + l4 + 14, 2) != 0 ||
      std::memcmp(p.data() + l4 + 20, q + l4 + 20, headers - l4 - 20) != 0)
    return false;
  item.frame.insert(item.frame.end(), p.begin() + ptrdiff_t(headers), p.end());
  item.next_seq += uint32_t(payload);
  ++item.segments;
  if (flags & kPsh) item.frame[kVnetHeaderLen + l4 + 13] |= kPsh;
  if (payload < item.mss || (flags & kPsh)) item.open = false;  // a short or pushed segment ends it
  return true;
}

Bytes Coalescer::finish(Item& item) {
  if (item.segments > 1) {
    uint8_t* ip = item.frame.data() + kVnetHeaderLen;
    const size_t len = item.frame.size() - kVnetHeaderLen;
    set_ip_length(ip, item.version, item.l4, len);
    // NEEDS_CSUM: the field holds the pseudo-header sum, the kernel treats the rest as verified.
    store16(ip + item.l4 + 16, checksum_fold(nullptr, 0, pseudo_header_sum(ip, kProtoTcp, len - item.l4)));
    VnetHeader h;
    h.flags = kNeedsCsum;
    h.gso_type = item.version == 4 ? kGsoTcpV4 : kGsoTcpV6;
    h.hdr_len = uint16_t(item.headers);
    h.gso_size = item.mss;
    h.csum_start = uint16_t(item.l4);
    h.csum_offset = 16;
    write_vnet_header(h, item.frame.data());
  }
  return Bytes(item.frame.data(), item.frame.size());
}

}  // namespace wgvm::io
