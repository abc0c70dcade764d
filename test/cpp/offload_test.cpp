// TUN offloads (io/offload.h): TSO super-packets split into valid TCP segments, segments merged into
// GRO super-packets only where that is exact, malformed virtio headers refused without a crash.
#include <cstring>
#include <vector>

#include "harness.h"
#include "io/offload.h"
#include "protocol/random.h"

using namespace wgvm;
using namespace wgvm::io;

namespace {

using Packet = std::vector<uint8_t>;

constexpr uint8_t kFin = 0x01, kSyn = 0x02, kRst = 0x04, kPsh = 0x08, kAck = 0x10, kCwr = 0x80;

uint16_t be16(const uint8_t* p) { return uint16_t(p[0] << 8 | p[1]); }
uint32_t be32(const uint8_t* p) { return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3]; }
void put16(uint8_t* p, size_t v) {
  p[0] = uint8_t(v >> 8);
  p[1] = uint8_t(v);
}
void put32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = uint8_t(v >> (24 - 8 * i));
}

// A reference RFC 1071 sum, byte pair by byte pair in network order, independent of io/offload.cpp.
uint32_t ref_sum(const uint8_t* p, size_t n, uint32_t sum = 0) {
  for (size_t i = 0; i + 1 < n; i += 2) sum += uint32_t(p[i] << 8 | p[i + 1]);
  if (n & 1) sum += uint32_t(p[n - 1] << 8);
  return sum;
}
uint16_t ref_fold(uint32_t s) {
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return uint16_t(s);
}
size_t l4_offset(const Packet& p) { return p[0] >> 4 == 4 ? size_t(p[0] & 15) * 4 : 40; }
uint32_t ref_pseudo(const Packet& p, uint8_t proto) {
  const size_t l4 = l4_offset(p);
  const size_t len = p.size() - l4;
  uint32_t s = p[0] >> 4 == 4 ? ref_sum(p.data() + 12, 8) : ref_sum(p.data() + 8, 32);
  return s + proto + uint32_t(len & 0xffff) + uint32_t(len >> 16);
}
// A transport checksum is valid when the sum over pseudo-header and segment folds to all ones.
bool transport_checksum_ok(const Packet& p, uint8_t proto) {
  const size_t l4 = l4_offset(p);
  return ref_fold(ref_sum(p.data() + l4, p.size() - l4, ref_pseudo(p, proto))) == 0xffff;
}
bool ipv4_header_ok(const Packet& p) { return ref_fold(ref_sum(p.data(), size_t(p[0] & 15) * 4)) == 0xffff; }

void set_transport_checksum(Packet& p, size_t field) {
  const size_t l4 = l4_offset(p);
  put16(&p[field], 0);
  put16(&p[field], uint16_t(~ref_fold(ref_sum(p.data() + l4, p.size() - l4, ref_pseudo(p, p[0] >> 4 == 4 ? p[9] : p[6])))));
}

struct Tcp {
  int version = 4;
  uint16_t sport = 40000, dport = 5201;
  uint32_t seq = 1000, ack = 77;
  uint8_t flags = kAck;
  size_t payload = 1000;
  uint8_t fill = 0;       // payload byte i is fill + i
  uint32_t tsval = 5;     // timestamp option (12 bytes of options)
  uint16_t window = 500;
  uint8_t ttl = 64;
};

// A complete IPv4 or IPv6 TCP packet with valid checksums.
Packet tcp_packet(const Tcp& t) {
  const size_t ip = t.version == 4 ? 20 : 40, th = 32;
  Packet p(ip + th + t.payload, 0);
  if (t.version == 4) {
    p[0] = 0x45;
    put16(&p[2], p.size());
    put16(&p[4], 0x1234);
    p[6] = 0x40;  // DF
    p[8] = t.ttl;
    p[9] = 6;
    const uint8_t addrs[8] = {10, 0, 0, 1, 10, 0, 0, 2};
    std::memcpy(&p[12], addrs, 8);
    put16(&p[10], uint16_t(~ref_fold(ref_sum(p.data(), 20))));
  } else {
    p[0] = 0x60;
    put16(&p[4], p.size() - 40);
    p[6] = 6;
    p[7] = t.ttl;
    p[8] = 0xfd;
    p[23] = 1;
    p[24] = 0xfd;
    p[39] = 2;
  }
  uint8_t* tcp = &p[ip];
  put16(tcp, t.sport);
  put16(tcp + 2, t.dport);
  put32(tcp + 4, t.seq);
  put32(tcp + 8, t.ack);
  tcp[12] = uint8_t((th / 4) << 4);
  tcp[13] = t.flags;
  put16(tcp + 14, t.window);
  const uint8_t options[12] = {1, 1, 8, 10, 0, 0, 0, 0, 0, 0, 0, 9};
  std::memcpy(tcp + 20, options, 12);
  put32(tcp + 24, t.tsval);
  for (size_t i = 0; i < t.payload; ++i) tcp[th + i] = uint8_t(t.fill + i);
  set_transport_checksum(p, ip + 16);
  return p;
}

Packet frame_of(const VnetHeader& h, const Packet& p) {
  Packet f(kVnetHeaderLen);
  write_vnet_header(h, f.data());
  f.insert(f.end(), p.begin(), p.end());
  return f;
}

// What the kernel hands over for a TSO send: headers of the first segment, the whole payload, and a
// TCP checksum field that holds only the pseudo-header sum.
Packet tso_frame(const Tcp& t, uint16_t mss) {
  Packet p = tcp_packet(t);
  const size_t l4 = l4_offset(p);
  VnetHeader h;
  h.flags = kNeedsCsum;
  h.gso_type = t.version == 4 ? kGsoTcpV4 : kGsoTcpV6;
  h.hdr_len = uint16_t(l4 + 32);
  h.gso_size = mss;
  h.csum_start = uint16_t(l4);
  h.csum_offset = 16;
  put16(&p[l4 + 16], ref_fold(ref_pseudo(p, 6)));
  return frame_of(h, p);
}

Packet copy(Bytes b) { return Packet(b.begin(), b.end()); }

void check_segments(int version) {
  Tcp t;
  t.version = version;
  t.seq = 0xfffff000;  // the sequence numbers wrap inside the super-packet
  t.payload = 3000;
  t.flags = kAck | kPsh | kFin | kCwr;
  const Packet original = tcp_packet(t);
  Segmenter s;
  REQUIRE(s.split(tso_frame(t, 1200)));
  REQUIRE(s.packets().size() == 3u);
  const size_t headers = (version == 4 ? 20 : 40) + 32;
  const size_t sizes[3] = {1200, 1200, 600};
  Packet payload;
  for (size_t i = 0; i < 3; ++i) {
    const Packet p = copy(s.packets()[i]);
    CHECK_EQ(p.size(), headers + sizes[i]);
    const size_t l4 = headers - 32;
    if (version == 4) {
      CHECK_EQ(size_t(be16(&p[2])), p.size());
      CHECK_EQ(be16(&p[4]), uint16_t(0x1234 + i));
      CHECK(ipv4_header_ok(p));
    } else {
      CHECK_EQ(size_t(be16(&p[4])), p.size() - 40);
    }
    CHECK_EQ(be32(&p[l4 + 4]), uint32_t(0xfffff000u + 1200 * i));
    const uint8_t want = i == 0 ? (kAck | kCwr) : i == 1 ? kAck : (kAck | kPsh | kFin);
    CHECK_EQ(p[l4 + 13], want);
    CHECK(transport_checksum_ok(p, 6));
    CHECK(std::memcmp(&p[l4 + 20], &original[l4 + 20], 12) == 0);  // options kept on every segment
    payload.insert(payload.end(), p.begin() + ptrdiff_t(headers), p.end());
  }
  CHECK(payload == Packet(original.begin() + ptrdiff_t(headers), original.end()));
}

}  // namespace

TEST(tso_ipv4_super_packet_splits_into_valid_segments) { check_segments(4); }
TEST(tso_ipv6_super_packet_splits_into_valid_segments) { check_segments(6); }

TEST(tso_payload_of_exactly_one_segment_is_one_packet) {
  Tcp t;
  t.payload = 1200;
  Segmenter s;
  REQUIRE(s.split(tso_frame(t, 1200)));
  REQUIRE(s.packets().size() == 1u);
  CHECK(copy(s.packets()[0]) == tcp_packet(t));
}

TEST(frame_with_empty_virtio_header_passes_unchanged) {
  const Packet p = tcp_packet(Tcp{});
  Segmenter s;
  const Packet frame = frame_of(VnetHeader{}, p);
  REQUIRE(s.split(frame));
  REQUIRE(s.packets().size() == 1u);
  CHECK(copy(s.packets()[0]) == p);
}

TEST(checksum_offload_without_segmentation_completes_udp_and_tcp_checksums) {
  // UDP over IPv4: 8-byte header, 100 bytes of payload, checksum field holding the pseudo-header sum.
  Packet udp(20 + 8 + 100, 0);
  udp[0] = 0x45;
  put16(&udp[2], udp.size());
  udp[8] = 64;
  udp[9] = 17;
  udp[12] = 192, udp[13] = 0, udp[14] = 2, udp[15] = 1, udp[16] = 192, udp[17] = 0, udp[18] = 2, udp[19] = 7;
  put16(&udp[20], 1234);
  put16(&udp[22], 53);
  put16(&udp[24], 108);
  for (size_t i = 28; i < udp.size(); ++i) udp[i] = uint8_t(i * 7);
  put16(&udp[26], ref_fold(ref_pseudo(udp, 17)));
  VnetHeader h;
  h.flags = kNeedsCsum;
  h.csum_start = 20;
  h.csum_offset = 6;
  Segmenter s;
  REQUIRE(s.split(frame_of(h, udp)));
  REQUIRE(s.packets().size() == 1u);
  CHECK(transport_checksum_ok(copy(s.packets()[0]), 17));

  Tcp t;
  t.version = 6;
  t.payload = 333;  // odd length
  Packet tcp = tcp_packet(t);
  put16(&tcp[40 + 16], ref_fold(ref_pseudo(tcp, 6)));
  h.csum_start = 40;
  h.csum_offset = 16;
  REQUIRE(s.split(frame_of(h, tcp)));
  REQUIRE(s.packets().size() == 1u);
  CHECK(copy(s.packets()[0]) == tcp_packet(t));
}

TEST(malformed_virtio_frames_are_refused) {
  Segmenter s;
  const Packet good = tso_frame(Tcp{}, 500);
  REQUIRE(s.split(good));
  auto refused = [&](Packet f) {
    const bool ok = s.split(f);
    return !ok && s.packets().empty();
  };
  CHECK(refused({}));
  CHECK(refused(Packet(kVnetHeaderLen, 0)));                         // a header and no packet
  CHECK(refused(Packet(good.begin(), good.begin() + 5)));            // a truncated header
  CHECK(refused(Packet(good.begin(), good.begin() + kVnetHeaderLen + 30)));  // truncated TCP header
  Packet f = good;
  f[4] = f[5] = 0;  // gso_size 0
  CHECK(refused(f));
  f = good;
  f[1] = 5;  // UDP_L4 segmentation, never switched on
  CHECK(refused(f));
  f = good;
  f[1] = kGsoTcpV6;  // an IPv4 packet announced as IPv6
  CHECK(refused(f));
  f = good;
  f[kVnetHeaderLen + 9] = 17;  // not TCP
  CHECK(refused(f));
  f = good;
  f[kVnetHeaderLen + 20 + 12] = 0x40;  // TCP data offset of 16 bytes
  CHECK(refused(f));
  f = good;
  f[kVnetHeaderLen + 20 + 12] = 0xf0;  // 60-byte TCP header, longer than the packet holds
  f.resize(kVnetHeaderLen + 20 + 40);
  CHECK(refused(f));
  Tcp big;
  big.payload = 60000;
  f = tso_frame(big, 1);  // gso_size 1: 60,000 segments, more than any real MSS (≥ 48) makes
  CHECK(refused(f));
  f = tso_frame(big, 48);  // Linux's smallest MSS: 1,250 segments, still split
  REQUIRE(s.split(f));
  CHECK_EQ(s.packets().size(), size_t(1250));
  VnetHeader h;
  h.flags = kNeedsCsum;
  h.csum_start = 2000;  // past the end
  CHECK(refused(frame_of(h, tcp_packet(Tcp{}))));
  h.csum_start = 20;
  h.csum_offset = 5000;
  CHECK(refused(frame_of(h, tcp_packet(Tcp{}))));

  // Random frames: refused or split, never a crash (the sanitizer build runs this too).
  protocol::SystemRandom rng;
  Packet noise(200);
  for (int i = 0; i < 20000; ++i) {
    const size_t n = rng.u32() % noise.size();
    rng.fill(noise.data(), n);
    noise[1] = uint8_t(noise[1] % 8);  // mostly the gso types that are handled
    if (n > kVnetHeaderLen) noise[kVnetHeaderLen] = uint8_t((rng.u32() & 1 ? 0x40 : 0x60) | (noise[kVnetHeaderLen] & 15));
    if (s.split(Bytes(noise.data(), n)))
      for (Bytes p : s.packets()) CHECK(p.size() <= 65535u);
  }
}

namespace {

struct Frame {
  VnetHeader h;
  Packet packet;
};

std::vector<Frame> coalesce(const std::vector<Packet>& packets) {
  Coalescer c;
  for (const Packet& p : packets) c.add(p);
  std::vector<Frame> out;
  c.flush([&](Bytes f) { out.push_back({read_vnet_header(f.data()), copy(f.subspan(kVnetHeaderLen))}); });
  CHECK(c.empty());
  return out;
}

bool unchanged(const Frame& f, const Packet& p) {
  return f.h.gso_type == kGsoNone && f.h.flags == 0 && f.packet == p;
}

std::vector<Packet> stream(Tcp t, int n) {
  std::vector<Packet> out;
  for (int i = 0; i < n; ++i) {
    out.push_back(tcp_packet(t));
    t.seq += uint32_t(t.payload);
    t.fill = uint8_t(t.fill + t.payload);
  }
  return out;
}

void check_round_trip(int version) {
  Tcp t;
  t.version = version;
  t.payload = 1200;
  std::vector<Packet> segments = stream(t, 4);
  Tcp last = t;
  last.seq += 4 * 1200;
  last.fill = uint8_t(4 * 1200);
  last.payload = 700;
  last.flags = kAck | kPsh;  // a short pushed segment ends the super-packet and belongs to it
  segments.push_back(tcp_packet(last));

  const auto frames = coalesce(segments);
  REQUIRE(frames.size() == 1u);
  const Frame& f = frames[0];
  const size_t l4 = version == 4 ? 20 : 40;
  CHECK_EQ(f.h.gso_type, version == 4 ? kGsoTcpV4 : kGsoTcpV6);
  CHECK_EQ(f.h.flags, kNeedsCsum);
  CHECK_EQ(f.h.gso_size, uint16_t(1200));
  CHECK_EQ(f.h.hdr_len, uint16_t(l4 + 32));
  CHECK_EQ(f.h.csum_start, uint16_t(l4));
  CHECK_EQ(f.h.csum_offset, uint16_t(16));
  CHECK_EQ(f.packet.size(), l4 + 32 + 4 * 1200 + 700);
  if (version == 4) {
    CHECK_EQ(size_t(be16(&f.packet[2])), f.packet.size());
    CHECK(ipv4_header_ok(f.packet));
  } else {
    CHECK_EQ(size_t(be16(&f.packet[4])), f.packet.size() - 40);
  }
  CHECK_EQ(f.packet[l4 + 13], uint8_t(kAck | kPsh));
  // The checksum field holds the pseudo-header sum: completing it as the kernel would gives a valid one.
  Packet completed = f.packet;
  put16(&completed[l4 + 16], uint16_t(~ref_fold(ref_sum(&completed[l4], completed.size() - l4))));
  CHECK(transport_checksum_ok(completed, 6));

  // Segmenting the GRO packet again gives back exactly the segments that went in (IPv4 IDs aside:
  // they count up from the first segment's).
  Segmenter s;
  Packet frame(kVnetHeaderLen);
  write_vnet_header(f.h, frame.data());
  frame.insert(frame.end(), f.packet.begin(), f.packet.end());
  REQUIRE(s.split(frame));
  REQUIRE(s.packets().size() == segments.size());
  for (size_t i = 0; i < segments.size(); ++i) {
    Packet p = copy(s.packets()[i]);
    if (version == 4) {
      put16(&p[4], 0x1234);
      put16(&p[10], 0);
      put16(&p[10], uint16_t(~ref_fold(ref_sum(p.data(), 20))));
    }
    CHECK(p == segments[i]);
  }
}

}  // namespace

TEST(gro_merges_a_tcp_ipv4_stream_and_segments_back_to_the_same_packets) { check_round_trip(4); }
TEST(gro_merges_a_tcp_ipv6_stream_and_segments_back_to_the_same_packets) { check_round_trip(6); }

TEST(gro_keeps_flows_apart_and_in_order) {
  Tcp a, b;
  b.sport = 40001;
  const auto as = stream(a, 2), bs = stream(b, 2);
  const auto frames = coalesce({as[0], bs[0], as[1], bs[1]});
  REQUIRE(frames.size() == 2u);
  CHECK_EQ(be16(&frames[0].packet[20]), uint16_t(40000));
  CHECK_EQ(be16(&frames[1].packet[20]), uint16_t(40001));
  CHECK_EQ(frames[0].packet.size(), 52u + 2000);
  CHECK_EQ(frames[1].packet.size(), 52u + 2000);
}

TEST(gro_never_merges_what_is_not_an_exact_continuation) {
  Tcp t;
  const Packet first = tcp_packet(t);
  auto next = [&](auto change) {
    Tcp n = t;
    n.seq += uint32_t(t.payload);
    n.fill = uint8_t(t.payload);
    change(n);
    return tcp_packet(n);
  };
  const std::vector<std::pair<const char*, Packet>> cases = {
      {"gap in sequence", next([](Tcp& n) { n.seq += 1; })},
      {"retransmission", next([&](Tcp& n) { n.seq = t.seq; })},
      {"other ACK", next([](Tcp& n) { n.ack += 1; })},
      {"other window", next([](Tcp& n) { n.window += 1; })},
      {"other timestamp", next([](Tcp& n) { n.tsval += 1; })},
      {"other TTL", next([](Tcp& n) { n.ttl = 63; })},
      {"other destination port", next([](Tcp& n) { n.dport = 5202; })},
      {"larger segment", next([](Tcp& n) { n.payload = 1001; })},
      {"FIN", next([](Tcp& n) { n.flags = kAck | kFin; })},
      {"SYN", next([](Tcp& n) { n.flags = kAck | kSyn; })},
      {"pure ACK", next([](Tcp& n) { n.payload = 0; })},
      {"IPv6 with the same ports", next([](Tcp& n) { n.version = 6; })},
  };
  for (const auto& [what, second] : cases) {
    const auto frames = coalesce({first, second});
    CHECK_EQ(frames.size(), 2u);
    if (frames.size() != 2u) continue;
    CHECK(unchanged(frames[0], first));
    if (!unchanged(frames[1], second)) ::wgvm::test::fail(__FILE__, __LINE__, std::string("merged: ") + what);
  }

  // Nothing joins a packet after a PSH or a short segment; the flow's later packets start anew.
  Tcp pushed = t;
  pushed.flags = kAck | kPsh;
  const auto after_push = coalesce({tcp_packet(pushed), next([](Tcp&) {})});
  CHECK_EQ(after_push.size(), 2u);
  const Packet shorter = next([](Tcp& n) { n.payload = 500; });
  const Packet after = next([](Tcp& n) {
    n.seq += 500;
    n.fill = uint8_t(n.fill + 500);
  });
  const auto after_short = coalesce({first, shorter, after});
  REQUIRE(after_short.size() == 2u);
  CHECK_EQ(after_short[0].packet.size(), 52u + 1500);
  CHECK(unchanged(after_short[1], after));

  // Non-TCP packets and IPv4 fragments go out as they came.
  Packet udp = first;
  udp[9] = 17;
  Packet fragment = first;
  fragment[6] |= 0x20;  // more fragments
  const auto others = coalesce({udp, fragment, first});
  REQUIRE(others.size() == 3u);
  CHECK(unchanged(others[0], udp));
  CHECK(unchanged(others[1], fragment));
  CHECK(unchanged(others[2], first));
}

TEST(gro_stops_below_the_ip_length_limit) {
  Tcp t;
  t.payload = 1400;
  const auto frames = coalesce(stream(t, 100));
  size_t total = 0;
  for (const Frame& f : frames) {
    CHECK(f.packet.size() <= 65535u);
    total += f.packet.size() - 52;
  }
  CHECK_EQ(total, 140000u);
  CHECK_EQ(frames.size(), 3u);  // 46 + 46 + 8 segments
}

TEST(only_pings_and_dataless_tcp_segments_may_overtake_the_tunnel_queue) {
  Tcp t;
  CHECK(!may_overtake(tcp_packet(t)));  // data keeps its place in the flow
  t.version = 6;
  CHECK(!may_overtake(tcp_packet(t)));
  t.payload = 0;  // a pure ACK
  CHECK(may_overtake(tcp_packet(t)));
  t.version = 4;
  CHECK(may_overtake(tcp_packet(t)));
  t.flags = kAck | kFin;  // a FIN must not arrive before its flow's data
  CHECK(!may_overtake(tcp_packet(t)));
  t.flags = kRst;
  CHECK(!may_overtake(tcp_packet(t)));
  Packet icmp(84, 0);
  icmp[0] = 0x45;
  icmp[9] = 1;
  CHECK(may_overtake(icmp));
  Packet icmp6(48, 0);
  icmp6[0] = 0x60;
  icmp6[6] = 58;
  CHECK(may_overtake(icmp6));  // IPv6 pings are as quick as IPv4 ones
  Packet udp = icmp;
  udp[9] = 17;  // UDP keeps its order: a QUIC flow mixes small and large datagrams
  CHECK(!may_overtake(udp));
  Packet udp6 = icmp6;
  udp6[6] = 17;
  CHECK(!may_overtake(udp6));
  CHECK(!may_overtake(Packet(3, 0x45)));
  Packet truncated = tcp_packet(Tcp{});
  truncated.resize(25);
  CHECK(!may_overtake(truncated));  // cannot tell: keep it in order
}
