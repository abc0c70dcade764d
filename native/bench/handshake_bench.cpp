// Handshakes per second on one responder Core: initiations from 256 configured peers are generated
// outside the timed section; only Core::receive on the responder is timed, which checks mac1,
// decrypts the initiation, creates the response and derives the session.
#include <array>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench/bench.h"
#include "protocol/core.h"
#include "protocol/messages.h"

namespace wgvm::bench {
namespace {

using namespace wgvm::protocol;

constexpr size_t kPeers = 256;

// Fast seeded randomness (SplitMix64) for the initiators' keys and ephemerals: their cost is not
// measured, and a benchmark world that is the same every run is easier to reason about.
class SeededRandom final : public Random {
 public:
  explicit SeededRandom(uint64_t seed) : state_(seed) {}
  void fill(uint8_t* out, size_t n) override {
    while (n) {
      uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
      z ^= z >> 31;
      for (int i = 0; i < 8 && n; ++i, --n) *out++ = static_cast<uint8_t>(z >> (8 * i));
    }
  }

 private:
  uint64_t state_;
};

// Keeps the last datagram a Core sent and counts what it sent.
struct Recorder final : Output {
  size_t sends = 0;
  size_t last_size = 0;
  std::array<uint8_t, initiation::kSize> last{};

  void send(const Endpoint&, Bytes d) override {
    ++sends;
    last_size = d.size();
    if (d.size() <= last.size()) std::copy(d.begin(), d.end(), last.begin());
  }
  void deliver(Peer&, Bytes) override {}
  void reset() { sends = 0, last_size = 0; }
};

// Counts the responses a responder emits.
struct ResponseCounter final : Output {
  uint64_t responses = 0;
  uint64_t other = 0;
  void send(const Endpoint&, Bytes d) override {
    if (d.size() == response::kSize && d[0] == static_cast<uint8_t>(MessageType::kResponse))
      ++responses;
    else
      ++other;
  }
  void deliver(Peer&, Bytes) override {}
};

struct Initiator {
  std::unique_ptr<Core> core;
  Peer* responder = nullptr;  // the responder as this initiator's peer
  Endpoint endpoint;          // where its initiations come from
};

std::string drop_summary(const Core& core, const uint64_t before[]) {
  std::string s;
  for (size_t d = 0; d < static_cast<size_t>(Drop::kCount); ++d) {
    const uint64_t grew = core.drops(static_cast<Drop>(d)) - before[d];
    if (grew) s += std::string(s.empty() ? "" : ", ") + drop_name(static_cast<Drop>(d)) + " +" + std::to_string(grew);
  }
  return s.empty() ? "no drop counter grew" : s;
}

}  // namespace

std::string run_handshakes(double seconds) {
  // The responder, as a real device runs it: the system DRBG for its key and its ephemerals.
  SystemRandom system_random;
  Core responder(system_random);
  {
    crypto::Key key;
    system_random.fill(key.data(), key.size());
    responder.set_private_key(key);  // clamps
    secure_zero(key);
  }
  const Endpoint responder_endpoint = Endpoint::v4(192, 0, 2, 1, 51820);

  SeededRandom initiator_random(0x77677662656e6368ULL);
  std::vector<Initiator> initiators(kPeers);
  for (size_t i = 0; i < kPeers; ++i) {
    Initiator& in = initiators[i];
    in.core = std::make_unique<Core>(initiator_random);
    crypto::Key key;
    initiator_random.fill(key.data(), key.size());
    in.core->set_private_key(key);
    in.responder = &in.core->add_peer(responder.identity().public_key);
    in.responder->endpoint = responder_endpoint;
    in.endpoint = Endpoint::v4(198, 18, uint8_t(i >> 8), uint8_t(i), 51820);

    Peer& on_responder = responder.add_peer(in.core->identity().public_key);
    routing::Prefix allowed;  // 10.1.x.y/32, one per peer
    allowed.family = routing::kFamilyV4;
    allowed.addr[0] = 10, allowed.addr[1] = 1, allowed.addr[2] = uint8_t(i >> 8), allowed.addr[3] = uint8_t(i);
    allowed.cidr = 32;
    if (!responder.allowed_ips().insert(allowed, &on_responder))
      throw std::runtime_error("handshakes: could not insert allowed IP for peer " + std::to_string(i));
  }
  if (responder.peer_count() != kPeers) throw std::runtime_error("handshakes: duplicate initiator keys");

  // Separate fake clocks. Per round: initiators +5 s (REKEY_TIMEOUT between their initiations; the
  // wall clock moves with it, far past the 2^24 ns TAI64N granularity, so each timestamp is newer).
  // The responder's moves on with every initiation, so that it stays below the rate that puts it
  // under load (this measures the handshake, not the cookie defence), which also keeps each peer's
  // initiations further apart than the per-peer flood limit.
  Now initiator_now{1'000 * kSecond, 1'700'000'000LL * kSecond};
  Now responder_now{1'000 * kSecond, 1'700'000'000LL * kSecond};
  const Nanos initiator_step = kRekeyTimeout;
  const Nanos responder_step = kSecond / kUnderLoadHandshakesPerSecond;
  static_assert(kPeers * (kSecond / kUnderLoadHandshakesPerSecond) >= kHandshakeInitiationRate);

  uint64_t drops_before[static_cast<size_t>(Drop::kCount)];
  for (size_t d = 0; d < static_cast<size_t>(Drop::kCount); ++d) drops_before[d] = responder.drops(static_cast<Drop>(d));

  std::vector<std::array<uint8_t, initiation::kSize>> initiations(kPeers);
  Recorder recorder;
  ResponseCounter responses;
  uint64_t fed = 0;
  uint64_t rounds = 0;
  Clock::duration responder_time{};
  const auto budget = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  std::fprintf(stderr, "wgvm_bench: handshakes (%.2f s of responder time, %zu peers)\n", seconds, kPeers);

  while (responder_time < budget) {
    // Generate this round's initiations (not timed).
    initiator_now.mono += initiator_step;
    initiator_now.wall += initiator_step;
    for (size_t i = 0; i < kPeers; ++i) {
      Initiator& in = initiators[i];
      recorder.reset();
      in.core->initiate_handshake(*in.responder, initiator_now, recorder);
      if (recorder.sends != 1 || recorder.last_size != initiation::kSize ||
          recorder.last[0] != static_cast<uint8_t>(MessageType::kInitiation))
        throw std::runtime_error("handshakes: initiator " + std::to_string(i) + " produced no initiation in round " +
                                 std::to_string(rounds));
      initiations[i] = recorder.last;
    }

    // The responder consumes them (timed).
    const auto start = Clock::now();
    for (size_t i = 0; i < kPeers; ++i) {
      responder_now.mono += responder_step;
      responder_now.wall += responder_step;
      responder.receive(Bytes(initiations[i].data(), initiations[i].size()), initiators[i].endpoint, responder_now,
                        responses);
    }
    responder_time += Clock::now() - start;
    fed += kPeers;
    ++rounds;

    if (responses.responses != fed || responses.other != 0)
      throw std::runtime_error("handshakes: fed " + std::to_string(fed) + " initiations but the responder sent " +
                               std::to_string(responses.responses) + " responses and " +
                               std::to_string(responses.other) + " other datagrams (" +
                               drop_summary(responder, drops_before) + ")");
  }

  const double secs = std::chrono::duration<double>(responder_time).count();
  return "{\"responder_handshakes_per_second\": " + fixed(responses.responses / secs, 1) +
         ", \"peers\": " + std::to_string(kPeers) + ", \"completed\": " + std::to_string(responses.responses) +
         ", \"responder_seconds\": " + fixed(secs, 3) + "}";
}

}  // namespace wgvm::bench
