// TCP segmentation and coalescing for a TUN interface with IFF_VNET_HDR: the kernel hands us TSO
// super-packets (one read for up to 64 KB of a TCP stream) and takes GRO super-packets (one write,
// one pass through its TCP receive path). Pure functions over bytes: no descriptors here.
#pragma once

#include <cstdint>
#include <vector>

#include "crypto/bytes.h"

namespace wgvm::io {

// struct virtio_net_hdr (linux/virtio_net.h) in host byte order, as a TUN without TUNSETVNETBE uses.
struct VnetHeader {
  uint8_t flags = 0;     // kNeedsCsum: the checksum at csum_start + csum_offset is still to be computed
  uint8_t gso_type = 0;  // kGsoNone, kGsoTcpV4, kGsoTcpV6 (| kGsoEcn)
  uint16_t hdr_len = 0;  // IP + TCP header bytes
  uint16_t gso_size = 0; // payload bytes per segment
  uint16_t csum_start = 0;
  uint16_t csum_offset = 0;
};
constexpr size_t kVnetHeaderLen = 10;
constexpr uint8_t kNeedsCsum = 1;
constexpr uint8_t kGsoNone = 0, kGsoTcpV4 = 1, kGsoTcpV6 = 4, kGsoEcn = 0x80;

VnetHeader read_vnet_header(const uint8_t* p);
void write_vnet_header(const VnetHeader&, uint8_t* p);

// The Internet checksum (RFC 1071) of `data` added to `initial` (an unfolded partial sum), folded to 16 bits.
uint16_t checksum_fold(const uint8_t* data, size_t len, uint64_t initial);
// The unfolded sum of the IPv4/IPv6 pseudo-header of a transport segment of `l4_len` bytes.
uint64_t pseudo_header_sum(const uint8_t* ip_packet, uint8_t protocol, size_t l4_len);

// Whether an IP packet may overtake the backlog of large frames without reordering anything that
// minds: pings (ICMP, ICMPv6) and TCP segments that carry no data and end nothing (pure ACKs, SYN).
// Everything else keeps its place, UDP included (a QUIC flow mixes sizes and counts reordering as loss).
bool may_overtake(Bytes ip_packet);

// Turns what a TUN read returned (virtio header, then the packet) into plain IP packets with complete
// checksums: a TSO super-packet becomes its segments (sequence numbers, lengths, IPv4 IDs, flags and
// checksums as the kernel would have sent them), a packet that still needs its checksum gets it.
// Packets refer to `frame` or to memory inside this object, until the next call. Returns false (and no packets) for
// a malformed or unsupported header: the caller drops the frame.
class Segmenter {
 public:
  bool split(Bytes frame);
  const std::vector<Bytes>& packets() const { return packets_; }

 private:
  bool split_tcp(const VnetHeader&, Bytes packet);
  std::vector<uint8_t> storage_;
  std::vector<Bytes> packets_;
};

// Collects the IP packets of one loop turn and merges consecutive segments of one TCP flow into GRO
// super-packets; flush() hands out frames (virtio header, then the packet) ready for a TUN write.
// Only exact continuations merge: same addresses, ports, ACK, window, options and IP fields, the next
// sequence number, equal segment sizes (a shorter one ends the packet) and no PSH/FIN/RST/SYN/URG
// before the end. Everything else goes out as it came, with an empty virtio header.
class Coalescer {
 public:
  void add(Bytes ip_packet);
  bool empty() const { return count_ == 0; }
  // Calls write(frame) for each frame in arrival order per flow, then forgets them.
  template <typename Write>
  void flush(Write&& write) {
    for (size_t i = 0; i < count_; ++i) write(finish(items_[i]));
    count_ = 0;
    if (items_.size() > kKeptItems) items_.resize(kKeptItems);  // a burst's buffers are not kept for ever
  }

 private:
  struct Item {
    std::vector<uint8_t> frame;  // virtio header then the IP packet (grown as segments merge)
    bool tcp = false;
    bool open = false;  // may still take a continuation
    uint8_t version = 0;
    size_t l4 = 0, headers = 0;  // offsets within the IP packet: TCP header, payload
    uint32_t next_seq = 0;
    uint16_t mss = 0;
    uint16_t segments = 0;
  };
  static constexpr size_t kKeptItems = 64;
  bool try_merge(Item&, Bytes packet, size_t l4, size_t headers);
  Bytes finish(Item&);

  std::vector<Item> items_;  // reused between turns: buffers keep their capacity
  size_t count_ = 0;
};

}  // namespace wgvm::io
