// A deterministic two-peer world for protocol tests: two Cores, a fake clock, seeded randomness,
// and a "network" that the test drives by hand (deliver, drop, replay, reorder).
#pragma once

#include <deque>
#include <functional>
#include <random>
#include <vector>

#include "protocol/core.h"
#include "protocol/messages.h"

namespace wgvm::test {

using namespace wgvm::protocol;

class SeededRandom final : public Random {
 public:
  explicit SeededRandom(uint64_t seed) : gen_(seed) {}
  void fill(uint8_t* out, size_t n) override {
    for (size_t i = 0; i < n; ++i) out[i] = static_cast<uint8_t>(gen_());
  }

 private:
  std::mt19937_64 gen_;
};

struct Datagram {
  Endpoint to;
  std::vector<uint8_t> bytes;
  MessageType type() const { return static_cast<MessageType>(bytes.at(0)); }
};

// Records everything a Core asks for.
struct Recorder final : Output {
  std::deque<Datagram> sent;
  std::vector<std::vector<uint8_t>> delivered;
  int handshakes = 0;
  int endpoint_changes = 0;
  // Runs inside deliver, with the Core's own buffer, as the device's relay does.
  std::function<void(Peer&, Bytes)> on_deliver;

  void send(const Endpoint& to, Bytes d) override { sent.push_back({to, {d.begin(), d.end()}}); }
  void deliver(Peer& from, Bytes p) override {
    delivered.emplace_back(p.begin(), p.end());
    if (on_deliver) on_deliver(from, p);
  }
  void handshake_completed(Peer&) override { ++handshakes; }
  void endpoint_changed(Peer&) override { ++endpoint_changes; }
  size_t count(MessageType t) const {
    size_t n = 0;
    for (const auto& d : sent) n += d.type() == t;
    return n;
  }
};

struct Node {
  SeededRandom rng;
  Core core;
  Recorder out;
  crypto::Key private_key{};
  crypto::Key public_key{};
  Endpoint endpoint;
  explicit Node(uint64_t seed, Endpoint ep) : rng(seed), core(rng), endpoint(ep) {
    rng.fill(private_key.data(), private_key.size());
    crypto::clamp_private_key(private_key.data());
    public_key = crypto::x25519_public_key(private_key.data());
    core.set_private_key(private_key);
  }
};

// An IPv4 packet of `total` bytes (≥ 20) from src to dst, with a recognisable payload.
inline std::vector<uint8_t> ipv4_packet(uint32_t src, uint32_t dst, size_t total, uint8_t fill = 0xab) {
  std::vector<uint8_t> p(total, fill);
  p[0] = 0x45;
  p[1] = 0;
  p[2] = uint8_t(total >> 8);
  p[3] = uint8_t(total);
  p[8] = 64;
  p[9] = 17;
  for (int i = 0; i < 4; ++i) {
    p[12 + i] = uint8_t(src >> (24 - 8 * i));
    p[16 + i] = uint8_t(dst >> (24 - 8 * i));
  }
  return p;
}

constexpr uint32_t kAddrA = 0x0a000001;  // 10.0.0.1
constexpr uint32_t kAddrB = 0x0a000002;  // 10.0.0.2

// A and B, each configured with the other as a peer (B's allowed IPs 10.0.0.2/32 on A, and so on).
// A knows B's endpoint; B learns A's from the first authenticated packet.
struct TwoPeers {
  Node a{1, Endpoint::v4(192, 0, 2, 1, 51820)};
  Node b{2, Endpoint::v4(192, 0, 2, 2, 51820)};
  Peer* b_on_a = nullptr;  // A's view of B
  Peer* a_on_b = nullptr;  // B's view of A
  Now now{1'000 * kSecond, 1'700'000'000LL * kSecond};

  explicit TwoPeers(const crypto::Key* psk = nullptr) {
    b_on_a = &a.core.add_peer(b.public_key);
    a_on_b = &b.core.add_peer(a.public_key);
    a.core.allowed_ips().insert(*routing::parse_prefix("10.0.0.2/32"), b_on_a);
    b.core.allowed_ips().insert(*routing::parse_prefix("10.0.0.1/32"), a_on_b);
    b_on_a->endpoint = b.endpoint;
    if (psk) {
      a.core.set_preshared_key(*b_on_a, *psk);
      b.core.set_preshared_key(*a_on_b, *psk);
    }
  }

  // Moves every datagram each side has sent to the other, until both are quiet. Returns how many moved.
  int exchange(int max_rounds = 20) {
    int moved = 0;
    for (int round = 0; round < max_rounds; ++round) {
      if (a.out.sent.empty() && b.out.sent.empty()) break;
      while (!a.out.sent.empty()) {
        Datagram d = std::move(a.out.sent.front());
        a.out.sent.pop_front();
        b.core.receive(d.bytes, a.endpoint, now, b.out);
        ++moved;
      }
      while (!b.out.sent.empty()) {
        Datagram d = std::move(b.out.sent.front());
        b.out.sent.pop_front();
        a.core.receive(d.bytes, b.endpoint, now, a.out);
        ++moved;
      }
    }
    return moved;
  }

  // Moves the clock forward in steps, firing timers on both sides (nothing is delivered).
  void advance(Nanos dt, Nanos step = 100 * kMillisecond) {
    for (Nanos t = 0; t < dt; t += step) {
      const Nanos s = std::min(step, dt - t);
      now.mono += s;
      now.wall += s;
      a.core.tick(now, a.out);
      b.core.tick(now, b.out);
    }
  }

  // Moves the clock forward without firing timers (as if the process had been busy).
  void skip(Nanos dt) {
    now.mono += dt;
    now.wall += dt;
  }

  void a_sends(size_t total = 100) { a.core.send(ipv4_packet(kAddrA, kAddrB, total), now, a.out); }
  void b_sends(size_t total = 100) { b.core.send(ipv4_packet(kAddrB, kAddrA, total), now, b.out); }

  // A initiates (by sending data), and the handshake and the first packet complete.
  void establish() {
    a_sends();
    exchange();
  }
};

}  // namespace wgvm::test
