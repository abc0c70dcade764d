// A UAPI host around a real Core, with no sockets: the listen port and mark are plain fields, and
// one port and one mark are refused, so that a set failing half-way is fuzzed as well.
#pragma once

#include <string>

#include "../../test/cpp/two_peers.h"
#include "device/uapi.h"

namespace wgvm::fuzz {

constexpr uint16_t kTakenPort = 4444;
constexpr uint32_t kRefusedMark = 666;

// The device every input starts from: a key, a port, a mark and two peers with allowed IPs.
inline const char kBaselineConfig[] =
    "private_key=e84b5a6d2717c1003a13b431570353dbaca9146cf150c5f8575680feba52027a\n"
    "listen_port=51820\n"
    "fwmark=7\n"
    "public_key=b85996fecc9c7f1fc6d2572a76eda11d59bcd20be8e543b15ce4bd85a8e75a33\n"
    "preshared_key=188515093e952f5f22e865cef3012e72f8b5f0b598ac0309d5dacce3b70fcf52\n"
    "endpoint=192.0.2.1:51820\n"
    "persistent_keepalive_interval=25\n"
    "allowed_ip=10.0.0.0/24\n"
    "allowed_ip=10.9.0.1/32\n"
    "public_key=58402e695ba1772b1cc9309755f043251ea77fdcf10fbbbb7a4dbc76e4e7b66a\n"
    "endpoint=[2001:db8::2]:51821\n"
    "wgvm_isolated=true\n"
    "allowed_ip=fd00::/64\n";

class FuzzHost final : public device::UapiHost {
 public:
  test::SeededRandom rng{7};
  protocol::Core core_{rng};
  test::Recorder out;
  protocol::Now clock{1'000 * protocol::kSecond, 1'700'000'000LL * protocol::kSecond};
  uint16_t port = 0;
  uint32_t mark = 0;
  bool relay = true;

  protocol::Core& core() override { return core_; }
  protocol::Now now() const override { return clock; }
  protocol::Output& output() override { return out; }
  uint16_t listen_port() const override { return port; }
  bool set_listen_port(uint16_t p, std::string* error) override {
    if (p == kTakenPort) {
      *error = "address already in use";
      return false;
    }
    port = p == 0 ? 40000 : p;
    return true;
  }
  uint32_t fwmark() const override { return mark; }
  bool set_fwmark(uint32_t m, std::string* error) override {
    if (m == kRefusedMark) {
      *error = "operation not permitted";
      return false;
    }
    mark = m;
    return true;
  }
  void apply_relay(bool on) override { relay = on; }

  // Everything a set may change: the get text plus what get does not show (relay, isolation).
  std::string state() {
    std::string s = device::uapi_get(*this);
    s += relay ? "relay\n" : "no relay\n";
    core_.for_each_peer([&s](protocol::Peer& p) { s += p.isolated ? "isolated\n" : "open\n"; });
    return s;
  }
};

}  // namespace wgvm::fuzz
