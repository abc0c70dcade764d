// libFuzzer target: the protocol core's datagram entry point (Core::receive) with every message
// type, with and without a live session. The input layout is described in core_world.h.
#include <cstdio>
#include <cstdlib>

#include "core_world.h"

using namespace wgvm::fuzz;

namespace {

// The invariant a peer must never break, whatever arrives: a packet reaches the tunnel only if its
// source address routes back to the peer that sent it.
void check_delivered(wgvm::test::Node& node, const Peer* expected_sender) {
  for (const auto& p : node.out.delivered) {
    const Peer* owner = nullptr;
    if (p.size() >= 20 && p[0] >> 4 == 4) owner = node.core.allowed_ips().lookup_v4(p.data() + 12);
    if (p.size() >= 40 && p[0] >> 4 == 6) owner = node.core.allowed_ips().lookup_v6(p.data() + 8);
    if (owner != expected_sender) {
      std::fprintf(stderr, "fuzz check failed: delivered a %zu-byte packet whose source does not route to its sender\n", p.size());
      std::abort();
    }
  }
}

void run_sequence(World& world, const uint8_t* data, size_t size) {
  TwoPeers& t = *world.w;
  while (size >= 2) {
    const size_t len = std::min<size_t>(data[0], size - 2);
    const uint8_t target = data[1];
    const Bytes bytes(data + 2, len);
    data += 2 + len;
    size -= 2 + len;
    switch (target & 3) {
      case 0: t.b.core.receive(bytes, t.a.endpoint, t.now, t.b.out); break;
      case 1: t.a.core.receive(bytes, t.b.endpoint, t.now, t.a.out); break;
      case 2: t.a.core.send(bytes, t.now, t.a.out); break;
      case 3: t.exchange(); break;
    }
    if (const Nanos seconds = (target >> 2) & 15) {
      const Nanos dt = seconds * seconds * kSecond;  // up to 225 s: rekeys, retries, expiry
      t.advance(dt, std::max(kSecond, dt / 8));
    }
  }
  t.exchange();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const Mode mode = static_cast<Mode>(data[0] % kModeCount);
  const uint8_t flags = data[1];
  data += 2;
  size -= 2;

  World world(mode == kSealed ? flags | kSession : flags);
  TwoPeers& t = *world.w;
  switch (mode) {
    case kRaw:
      t.b.core.receive(Bytes(data, size), t.a.endpoint, t.now, t.b.out);
      break;
    case kInitiation:
    case kResponse:
    case kCookie:
    case kTransport: {
      const auto msg = world.shape(mode, flags, data, size);
      t.b.core.receive(msg, t.a.endpoint, t.now, t.b.out);
      break;
    }
    case kSealed:
      t.a.core.send_to(*t.b_on_a, Bytes(data, size), t.now, t.a.out);
      t.exchange();
      break;
    case kSequence:
      run_sequence(world, data, size);
      break;
    default:
      break;
  }
  // Whatever B answered goes to A, and timers run once, so replies and their consequences are fuzzed too.
  t.exchange();
  t.advance(kSecond, kSecond);
  check_delivered(t.b, t.a_on_b);
  check_delivered(t.a, t.b_on_a);
  return 0;
}
