// Writes the seed corpora of the fuzz targets, generated from the same worlds the targets rebuild,
// so that every handshake and transport seed is valid (decrypts, authenticates) when replayed:
//   wgvm_fuzz_seeds <directory>   →  <directory>/{core,uapi,allowed_ips}/seed-N and <directory>/uapi.dict
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core_world.h"
#include "uapi_host.h"

using namespace wgvm::fuzz;
namespace fs = std::filesystem;

namespace {

using Seed = std::vector<uint8_t>;

Seed with_header(uint8_t mode, uint8_t flags, const std::vector<uint8_t>& payload) {
  Seed s{mode, flags};
  s.insert(s.end(), payload.begin(), payload.end());
  return s;
}

// The message A sends next in a world built with `flags`, after `act` made it send something.
template <typename Act>
std::vector<uint8_t> a_sends(uint8_t flags, Act act) {
  World world(flags);
  act(world, *world.w);
  if (world.w->a.out.sent.empty()) {
    std::fprintf(stderr, "seed generator: A sent nothing (flags %u)\n", flags);
    std::exit(1);
  }
  return world.w->a.out.sent.front().bytes;
}

std::vector<Seed> core_seeds() {
  std::vector<Seed> seeds;
  const auto initiate = [](World&, TwoPeers& t) { t.a.core.initiate_handshake(*t.b_on_a, t.now, t.a.out); };
  const auto answer_b = [](World& w, TwoPeers& t) { t.a.core.receive(w.b_initiation, t.b.endpoint, t.now, t.a.out); };
  const auto cookie_for_b = [](World& w, TwoPeers& t) {
    t.a.core.set_handshake_backlog(4096, t.now.mono);
    t.a.core.receive(w.b_initiation, t.b.endpoint, t.now, t.a.out);
  };
  const auto data = [](World&, TwoPeers& t) {
    t.a.core.send_to(*t.b_on_a, wgvm::test::ipv4_packet(wgvm::test::kAddrA, wgvm::test::kAddrB, 84), t.now, t.a.out);
  };
  const auto keepalive = [](World&, TwoPeers& t) { t.a.core.send_to(*t.b_on_a, {}, t.now, t.a.out); };

  // A valid message of each type, for the state it is valid in, shaped and raw. Each is replayed
  // here as the target would, and must pass every check of B's (else the seed would be useless).
  const auto valid = [&seeds](Mode mode, int flags, const std::vector<uint8_t>& msg) {
    World world(static_cast<uint8_t>(flags));
    TwoPeers& t = *world.w;
    t.b.core.receive(world.shape(mode, static_cast<uint8_t>(flags), msg.data(), msg.size()), t.a.endpoint, t.now, t.b.out);
    if (t.b.core.total_drops() != 0 || (mode != kCookie && t.b.out.sent.empty() && t.b.out.delivered.empty())) {
      std::fprintf(stderr, "seed generator: a mode %u seed (flags %d) is not accepted\n", mode, flags);
      std::exit(1);
    }
    seeds.push_back(with_header(mode, static_cast<uint8_t>(flags), msg));
    seeds.push_back(with_header(kRaw, static_cast<uint8_t>(flags), msg));
  };
  for (const int flags : {0, 1 * kSession, 1 * kUnderLoad, kSession | kBInitiates}) {
    const auto init = a_sends(flags, initiate);
    if (flags & kUnderLoad) {  // B answers with a cookie reply instead: dropped on purpose
      seeds.push_back(with_header(kInitiation, static_cast<uint8_t>(flags), init));
      continue;
    }
    valid(kInitiation, flags, init);
  }
  for (const int flags : {kBInitiates | kFixIndex, kSession | kBInitiates | kFixIndex}) {
    valid(kResponse, flags, a_sends(flags, answer_b));
    valid(kCookie, flags, a_sends(flags, cookie_for_b));
  }
  for (const int flags : {kSession | kFixIndex, kSession | kBInitiates | kFixIndex}) {
    valid(kTransport, flags, a_sends(flags, data));
    valid(kTransport, flags, a_sends(flags, keepalive));
  }

  // Inner packets for A to seal: allowed, from a source B does not allow, IPv6, malformed.
  using wgvm::test::ipv4_packet;
  seeds.push_back(with_header(kSealed, kSession, ipv4_packet(wgvm::test::kAddrA, wgvm::test::kAddrB, 60)));
  seeds.push_back(with_header(kSealed, kSession, ipv4_packet(0x0a000063, wgvm::test::kAddrB, 60)));
  seeds.push_back(with_header(kSealed, kSession, ipv4_packet(wgvm::test::kAddrA, wgvm::test::kAddrB, 20)));
  std::vector<uint8_t> v6(80, 0x5a);
  v6[0] = 0x60;
  v6[4] = 0;
  v6[5] = 40;  // payload length
  v6[6] = 17;
  v6[7] = 64;
  const uint8_t fd00_1[16] = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  const uint8_t fd00_2[16] = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
  std::copy_n(fd00_1, 16, v6.begin() + 8);
  std::copy_n(fd00_2, 16, v6.begin() + 24);
  seeds.push_back(with_header(kSealed, kSession, v6));
  seeds.push_back(with_header(kSealed, kSession, {}));

  // Sequences: A's tunnel packet starts a handshake that completes; then the clock runs for
  // minutes (rekey, keepalives, expiry) with data in between.
  const auto packet = ipv4_packet(wgvm::test::kAddrA, wgvm::test::kAddrB, 100);
  Seed seq{kSequence, 0};
  seq.push_back(static_cast<uint8_t>(packet.size()));
  seq.push_back(2);  // A sends through its tunnel
  seq.insert(seq.end(), packet.begin(), packet.end());
  for (uint8_t step : {3, 3 | (4 << 2), 3 | (11 << 2), 3 | (15 << 2)}) {
    seq.push_back(static_cast<uint8_t>(packet.size()));
    seq.push_back(2);
    seq.insert(seq.end(), packet.begin(), packet.end());
    seq.push_back(0);
    seq.push_back(step);
  }
  seeds.push_back(seq);
  seq[1] = kSession | kBInitiates;
  seeds.push_back(seq);
  return seeds;
}

std::vector<std::string> uapi_seeds() {
  const std::string peer_a = "public_key=b85996fecc9c7f1fc6d2572a76eda11d59bcd20be8e543b15ce4bd85a8e75a33\n";
  const std::string peer_b = "public_key=58402e695ba1772b1cc9309755f043251ea77fdcf10fbbbb7a4dbc76e4e7b66a\n";
  const std::string peer_c = "public_key=0f0e0d0c0b0a09080706050403020100f0e0d0c0b0a090807060504030201000\n";
  return {
      kBaselineConfig,
      "listen_port=0\nfwmark=0\nreplace_peers=true\n" + peer_c + "allowed_ip=0.0.0.0/0\nallowed_ip=::/0\n",
      "private_key=0000000000000000000000000000000000000000000000000000000000000000\n",
      "wgvm_relay=false\n" + peer_a + "update_only=true\nreplace_allowed_ips=true\nallowed_ip=10.1.0.0/16\n",
      peer_b + "remove=true\n" + peer_c + "endpoint=[fe80::1%eth0]:1\npersistent_keepalive_interval=65535\n",
      peer_a + "preshared_key=0000000000000000000000000000000000000000000000000000000000000000\nwgvm_isolated=false\n",
      "listen_port=4444\n" + peer_c + "allowed_ip=192.168.0.1/32\n",
      "listen_port=1\nfwmark=666\n" + peer_c,
      peer_c + "endpoint=203.0.113.9:65535\nprotocol_version=1\nallowed_ip=10.0.0.0/8\n" + peer_c + "allowed_ip=10.0.0.0/9\n",
      peer_a + "allowed_ip=10.0.0.0/33\n",
      "fwmark=4294967295\nlisten_port=65535\nreplace_peers=true\n",
  };
}

std::vector<Seed> allowed_ips_seeds() {
  // [op][family][cidr][address] for insert (op 0) and remove (op 1), [op][family][address] for
  // lookup (op 2), [op] for remove_all (op 3); the owner is in bits 2..4 of op. Family 0 = IPv4.
  return {
      {0, 0, 24, 1, 0, 0, 0, /**/ 2, 0, 1, 0, 0, 5, /**/ 4, 0, 8, 1, 0, 0, 0, /**/ 2, 0, 1, 0, 0, 5},
      {0, 0, 32, 1, 0, 0, 7, 4, 0, 32, 1, 0, 0, 2, 1, 0, 32, 1, 0, 0, 7, 2, 0, 1, 0, 0, 7, 7},
      {0, 1, 64, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /**/ 4, 1, 128, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
       0, 0, 0, 0, 7, /**/ 2, 1, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7},
      {0, 0, 0, 0, 0, 0, 0, 4, 0, 1, 2, 0, 0, 0, 8, 0, 2, 3, 0, 0, 0, 3, 0, 3, 1, 2, 3},
  };
}

const char* const kUapiDictionary[] = {
    "private_key=", "listen_port=", "fwmark=", "replace_peers=true", "public_key=", "remove=true",
    "update_only=true", "preshared_key=", "endpoint=", "persistent_keepalive_interval=",
    "replace_allowed_ips=true", "allowed_ip=", "protocol_version=1", "wgvm_relay=", "wgvm_isolated=",
    "true", "false", "\\x0a", "/32", "/128", "::", "[", "]:", "%", "4444", "666",
    "0000000000000000000000000000000000000000000000000000000000000000",
};

void write(const fs::path& dir, size_t n, const void* data, size_t size) {
  std::ofstream(dir / ("seed-" + std::to_string(n)), std::ios::binary).write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: wgvm_fuzz_seeds <directory>\n");
    return 2;
  }
  const fs::path root = argv[1];
  for (const char* name : {"core", "uapi", "allowed_ips"}) {
    fs::remove_all(root / name);
    fs::create_directories(root / name);
  }
  size_t n = 0;
  for (const auto& s : core_seeds()) write(root / "core", n++, s.data(), s.size());
  for (const auto& s : uapi_seeds()) write(root / "uapi", n++, s.data(), s.size());
  for (const auto& s : allowed_ips_seeds()) write(root / "allowed_ips", n++, s.data(), s.size());
  std::ofstream dict(root / "uapi.dict");
  for (const char* word : kUapiDictionary) dict << '"' << word << "\"\n";
  std::printf("%zu seeds written to %s\n", n, root.c_str());
  return 0;
}
