// The UAPI text protocol (device/uapi.h) against a real Core behind a fake host: set/get round trips,
// peer sections (replace, remove, update_only), allowed IPs, and all-or-nothing rejection of bad input.
#include <cerrno>
#include <string>
#include <vector>

#include "device/uapi.h"
#include "harness.h"
#include "two_peers.h"

using namespace wgvm;
using namespace wgvm::test;
using wgvm::device::uapi_get;
using wgvm::device::uapi_set;
using wgvm::device::UapiResult;

namespace {

constexpr uint16_t kTakenPort = 4444;   // set_listen_port fails for this one
constexpr uint32_t kRefusedMark = 666;  // set_fwmark fails for this one

class FakeHost final : public device::UapiHost {
 public:
  SeededRandom rng{7};
  Core core_{rng};
  Recorder out;
  Now clock{1'000 * kSecond, 1'700'000'000LL * kSecond};
  uint16_t port = 0;
  uint32_t mark = 0;
  int port_calls = 0;
  int mark_calls = 0;

  Core& core() override { return core_; }
  Now now() const override { return clock; }
  protocol::Output& output() override { return out; }
  uint16_t listen_port() const override { return port; }
  bool set_listen_port(uint16_t p, std::string* error) override {
    ++port_calls;
    if (p == kTakenPort) {
      *error = "address already in use";
      return false;
    }
    port = p == 0 ? 40000 : p;  // 0 picks a free port
    return true;
  }
  uint32_t fwmark() const override { return mark; }
  bool set_fwmark(uint32_t m, std::string* error) override {
    ++mark_calls;
    if (m == kRefusedMark) {
      *error = "operation not permitted";
      return false;
    }
    mark = m;
    return true;
  }
  bool relay = true;
  void apply_relay(bool on) override { relay = on; }
};

crypto::Key key_of(uint8_t seed) {
  crypto::Key k;
  for (size_t i = 0; i < k.size(); ++i) k[i] = static_cast<uint8_t>(seed + 7 * i);
  return k;
}

std::string hex_of(const crypto::Key& k) { return hex(k.data(), k.size()); }

std::string upper(std::string s) {
  for (char& c : s)
    if (c >= 'a' && c <= 'f') c = static_cast<char>(c - 'a' + 'A');
  return s;
}

crypto::Key clamped(crypto::Key k) {
  crypto::clamp_private_key(k.data());
  return k;
}

crypto::Key public_of(const crypto::Key& priv) { return crypto::x25519_public_key(priv.data()); }

const crypto::Key kPriv = key_of(1);
const crypto::Key kPriv2 = key_of(2);
const crypto::Key kPsk = key_of(3);
const crypto::Key kPeerA = public_of(key_of(10));
const crypto::Key kPeerB = public_of(key_of(11));
const crypto::Key kPeerC = public_of(key_of(12));
const std::string kZeros(64, '0');

Peer* find(FakeHost& h, const crypto::Key& k) { return h.core().find_peer(k); }

std::vector<std::string> prefixes(FakeHost& h, Peer* p) {
  std::vector<std::string> out;
  for (const auto& prefix : h.core().allowed_ips().list(p)) out.push_back(routing::to_string(prefix));
  return out;
}

Peer* route(FakeHost& h, const char* address) {
  const auto p = routing::parse_prefix(address);
  return h.core().allowed_ips().lookup(p->family, p->addr.data());
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// A device with a key, a port, a mark and two peers: the state every rejection must leave alone.
void configure_baseline(FakeHost& h) {
  const UapiResult r = uapi_set(h,
                                "private_key=" + hex_of(kPriv) +
                                    "\nlisten_port=51820\nfwmark=7\n"
                                    "public_key=" + hex_of(kPeerA) +
                                    "\npreshared_key=" + hex_of(kPsk) +
                                    "\nendpoint=192.0.2.1:51820\n"
                                    "allowed_ip=10.0.0.0/24\n"
                                    "public_key=" + hex_of(kPeerB) +
                                    "\nendpoint=[2001:db8::2]:51821\n"
                                    "allowed_ip=fd00::/64\n");
  CHECK_EQ(r.errno_value, 0);
  CHECK_EQ(r.message, std::string());
}

}  // namespace

TEST(uapi_full_set_then_get_round_trips) {
  FakeHost h;
  // What `wg setconf` sends for a two-peer config (keys in upper case for the private key).
  const std::string body = "private_key=" + upper(hex_of(kPriv)) +
                           "\n"
                           "listen_port=51820\n"
                           "fwmark=4660\n"
                           "replace_peers=true\n"
                           "public_key=" + hex_of(kPeerA) +
                           "\n"
                           "preshared_key=" + hex_of(kPsk) +
                           "\n"
                           "endpoint=192.0.2.1:51820\n"
                           "persistent_keepalive_interval=25\n"
                           "replace_allowed_ips=true\n"
                           "allowed_ip=10.0.0.0/24\n"
                           "allowed_ip=fd00:1::/64\n"
                           "public_key=" + hex_of(kPeerB) +
                           "\n"
                           "protocol_version=1\n"
                           "endpoint=[2001:db8::1]:51821\n"
                           "replace_allowed_ips=true\n"
                           "allowed_ip=10.0.1.2/32\n";
  const UapiResult r = uapi_set(h, body);
  CHECK_EQ(r.errno_value, 0);
  CHECK_EQ(r.message, std::string());

  CHECK(h.core().identity().has_key);
  CHECK(h.core().identity().public_key == public_of(clamped(kPriv)));
  CHECK_EQ(h.port, uint16_t(51820));
  CHECK_EQ(h.mark, uint32_t(4660));
  REQUIRE(find(h, kPeerA) != nullptr);
  REQUIRE(find(h, kPeerB) != nullptr);
  CHECK(find(h, kPeerA)->statics.preshared_key == kPsk);
  CHECK(find(h, kPeerA)->endpoint == Endpoint::v4(192, 0, 2, 1, 51820));
  CHECK_EQ(find(h, kPeerA)->persistent_keepalive_interval, uint16_t(25));
  CHECK(route(h, "10.0.0.9") == find(h, kPeerA));
  CHECK(route(h, "fd00:1::5") == find(h, kPeerA));
  CHECK(route(h, "10.0.1.2") == find(h, kPeerB));
  CHECK_EQ(find(h, kPeerB)->endpoint.family, uint8_t(6));

  // Counters and the handshake time come from the peer.
  find(h, kPeerB)->last_handshake_wall = 1'700'000'123LL * kSecond + 456'789'012;
  find(h, kPeerB)->rx_bytes = 1234;
  find(h, kPeerB)->tx_bytes = 5678;
  const uint64_t a_tx = find(h, kPeerA)->tx_bytes;  // the keepalive (an initiation) it sent

  const std::string expected = "private_key=" + hex_of(clamped(kPriv)) +
                               "\n"
                               "listen_port=51820\n"
                               "fwmark=4660\n"
                               "public_key=" + hex_of(kPeerA) +
                               "\n"
                               "preshared_key=" + hex_of(kPsk) +
                               "\n"
                               "protocol_version=1\n"
                               "endpoint=192.0.2.1:51820\n"
                               "last_handshake_time_sec=0\n"
                               "last_handshake_time_nsec=0\n"
                               "tx_bytes=" + std::to_string(a_tx) +
                               "\n"
                               "rx_bytes=0\n"
                               "persistent_keepalive_interval=25\n"
                               "allowed_ip=10.0.0.0/24\n"
                               "allowed_ip=fd00:1::/64\n"
                               "public_key=" + hex_of(kPeerB) +
                               "\n"
                               "preshared_key=" + kZeros +
                               "\n"
                               "protocol_version=1\n"
                               "endpoint=[2001:db8::1]:51821\n"
                               "last_handshake_time_sec=1700000123\n"
                               "last_handshake_time_nsec=456789012\n"
                               "tx_bytes=5678\n"
                               "rx_bytes=1234\n"
                               "persistent_keepalive_interval=0\n"
                               "allowed_ip=10.0.1.2/32\n";
  CHECK_EQ(uapi_get(h), expected);

  // `wg syncconf` sends the same thing again, but without replace_peers: nothing changes.
  const size_t sent_before = h.out.sent.size();
  const int port_calls = h.port_calls;
  std::string resend = body;
  resend.erase(resend.find("replace_peers=true\n"), std::string("replace_peers=true\n").size());
  CHECK_EQ(uapi_set(h, resend).errno_value, 0);
  CHECK_EQ(uapi_get(h), expected);
  CHECK_EQ(h.out.sent.size(), sent_before);  // same keepalive interval: no second keepalive
  CHECK_EQ(h.port_calls, port_calls);        // same port: no rebind

  // The settable part of the get output, fed to a fresh device, gives the same get output.
  std::string settable;
  for (size_t start = 0; start < expected.size();) {
    const size_t end = expected.find('\n', start);
    const std::string line = expected.substr(start, end + 1 - start);
    start = end + 1;
    if (line.starts_with("last_handshake") || line.starts_with("tx_bytes") || line.starts_with("rx_bytes")) continue;
    settable += line;
  }
  FakeHost fresh;
  CHECK_EQ(uapi_set(fresh, settable).errno_value, 0);
  find(fresh, kPeerB)->last_handshake_wall = 1'700'000'123LL * kSecond + 456'789'012;
  find(fresh, kPeerB)->rx_bytes = 1234;
  find(fresh, kPeerB)->tx_bytes = 5678;
  find(fresh, kPeerA)->tx_bytes = a_tx;
  CHECK_EQ(uapi_get(fresh), expected);
}

TEST(uapi_get_of_an_empty_device_is_empty) {
  FakeHost h;
  CHECK_EQ(uapi_get(h), std::string());
  CHECK_EQ(uapi_set(h, "").errno_value, 0);
  CHECK_EQ(uapi_set(h, "\n").errno_value, 0);
  CHECK_EQ(uapi_get(h), std::string());
  CHECK_EQ(h.port_calls + h.mark_calls, 0);
  // listen_port=0 picks a port, which get then reports.
  CHECK_EQ(uapi_set(h, "listen_port=0\n").errno_value, 0);
  CHECK_EQ(uapi_get(h), std::string("listen_port=40000\n"));
}

TEST(uapi_zero_private_key_clears_it_and_zero_psk_means_none) {
  FakeHost h;
  configure_baseline(h);
  CHECK(contains(uapi_get(h), "private_key="));
  CHECK_EQ(uapi_set(h, "private_key=" + kZeros + "\npublic_key=" + hex_of(kPeerA) + "\npreshared_key=" + kZeros +
                           "\n")
               .errno_value,
           0);
  CHECK(!h.core().identity().has_key);
  CHECK(!contains(uapi_get(h), "private_key="));
  CHECK(find(h, kPeerA)->statics.preshared_key == crypto::Key{});
  CHECK(uapi_get(h).starts_with("listen_port=51820\nfwmark=7\npublic_key=" + hex_of(kPeerA) + "\npreshared_key=" +
                                kZeros + "\n"));
}

TEST(uapi_replace_peers_removes_every_peer_first) {
  FakeHost h;
  configure_baseline(h);
  CHECK_EQ(uapi_set(h, "replace_peers=true\npublic_key=" + hex_of(kPeerC) + "\nallowed_ip=10.9.0.0/16\n").errno_value,
           0);
  CHECK_EQ(h.core().peer_count(), size_t(1));
  CHECK(find(h, kPeerA) == nullptr);
  CHECK(find(h, kPeerB) == nullptr);
  REQUIRE(find(h, kPeerC) != nullptr);
  CHECK_EQ(h.core().allowed_ips().size(), size_t(1));
  CHECK(route(h, "10.0.0.1") == nullptr);
  CHECK(route(h, "10.9.1.1") == find(h, kPeerC));
  // replace_peers alone empties the device.
  CHECK_EQ(uapi_set(h, "replace_peers=true\n").errno_value, 0);
  CHECK_EQ(h.core().peer_count(), size_t(0));
  CHECK_EQ(uapi_get(h), "private_key=" + hex_of(clamped(kPriv)) + "\nlisten_port=51820\nfwmark=7\n");
}

TEST(uapi_remove_deletes_the_peer_and_its_allowed_ips) {
  FakeHost h;
  configure_baseline(h);
  CHECK_EQ(uapi_set(h, "public_key=" + hex_of(kPeerA) + "\nremove=true\n").errno_value, 0);
  CHECK(find(h, kPeerA) == nullptr);
  CHECK(find(h, kPeerB) != nullptr);
  CHECK(route(h, "10.0.0.1") == nullptr);
  CHECK(!contains(uapi_get(h), hex_of(kPeerA)));
  // Removing a peer that is not there creates nothing; lines after remove are checked but ignored.
  const std::string before = uapi_get(h);
  CHECK_EQ(uapi_set(h, "public_key=" + hex_of(kPeerC) + "\nremove=true\nallowed_ip=10.1.0.0/16\n").errno_value, 0);
  CHECK(find(h, kPeerC) == nullptr);
  CHECK_EQ(uapi_get(h), before);
  CHECK_EQ(uapi_set(h, "public_key=" + hex_of(kPeerC) + "\nremove=true\nallowed_ip=10.1.0.0/99\n").errno_value,
           EINVAL);
}

TEST(uapi_update_only_skips_missing_peers_and_updates_existing_ones) {
  FakeHost h;
  configure_baseline(h);
  const std::string before = uapi_get(h);
  // A missing peer: the whole section is skipped, so it takes no prefix from peer A.
  CHECK_EQ(uapi_set(h, "public_key=" + hex_of(kPeerC) +
                           "\nupdate_only=true\nendpoint=192.0.2.9:1\nallowed_ip=10.0.0.0/24\n")
               .errno_value,
           0);
  CHECK(find(h, kPeerC) == nullptr);
  CHECK(route(h, "10.0.0.1") == find(h, kPeerA));
  CHECK_EQ(uapi_get(h), before);
  // An existing peer is updated.
  CHECK_EQ(uapi_set(h, "public_key=" + hex_of(kPeerB) + "\nupdate_only=true\nendpoint=192.0.2.9:1\n").errno_value, 0);
  CHECK(find(h, kPeerB)->endpoint == Endpoint::v4(192, 0, 2, 9, 1));
  // Only right after public_key, and only "true".
  const std::string after = uapi_get(h);
  UapiResult r = uapi_set(h, "public_key=" + hex_of(kPeerC) + "\nendpoint=192.0.2.9:1\nupdate_only=true\n");
  CHECK_EQ(r.errno_value, EINVAL);
  CHECK(contains(r.message, "line 3 (update_only)"));
  r = uapi_set(h, "public_key=" + hex_of(kPeerC) + "\nupdate_only=false\n");
  CHECK_EQ(r.errno_value, EINVAL);
  CHECK_EQ(uapi_get(h), after);
}

TEST(uapi_replace_allowed_ips_drops_only_that_peers_prefixes) {
  FakeHost h;
  configure_baseline(h);
  CHECK_EQ(uapi_set(h, "public_key=" + hex_of(kPeerA) + "\nallowed_ip=fd01::/48\n").errno_value, 0);
  CHECK((prefixes(h, find(h, kPeerA)) == std::vector<std::string>{"10.0.0.0/24", "fd01::/48"}));
  CHECK_EQ(uapi_set(h, "public_key=" + hex_of(kPeerA) + "\nreplace_allowed_ips=true\nallowed_ip=10.1.0.0/16\n")
               .errno_value,
           0);
  CHECK((prefixes(h, find(h, kPeerA)) == std::vector<std::string>{"10.1.0.0/16"}));
  CHECK((prefixes(h, find(h, kPeerB)) == std::vector<std::string>{"fd00::/64"}));
  // With nothing after it, the peer keeps no prefix at all.
  CHECK_EQ(uapi_set(h, "public_key=" + hex_of(kPeerA) + "\nreplace_allowed_ips=true\n").errno_value, 0);
  CHECK(prefixes(h, find(h, kPeerA)).empty());
  CHECK(!contains(uapi_get(h), "allowed_ip=10."));
}

TEST(uapi_allowed_ip_moves_a_prefix_between_peers) {
  FakeHost h;
  configure_baseline(h);
  CHECK_EQ(uapi_set(h, "public_key=" + hex_of(kPeerB) + "\nallowed_ip=10.0.0.0/24\n").errno_value, 0);
  CHECK(route(h, "10.0.0.1") == find(h, kPeerB));
  CHECK(prefixes(h, find(h, kPeerA)).empty());
  CHECK((prefixes(h, find(h, kPeerB)) == std::vector<std::string>{"fd00::/64", "10.0.0.0/24"}));
  const std::string get = uapi_get(h);
  CHECK_EQ(get.find("allowed_ip=10.0.0.0/24"), get.rfind("allowed_ip=10.0.0.0/24"));  // listed once
  CHECK(get.find("allowed_ip=10.0.0.0/24") > get.find("public_key=" + hex_of(kPeerB)));
}

TEST(uapi_get_prints_allowed_ips_with_host_bits_masked) {
  FakeHost h;
  CHECK_EQ(uapi_set(h, "public_key=" + hex_of(kPeerA) +
                           "\nallowed_ip=10.0.0.77/24\nallowed_ip=fd00::1234/64\nallowed_ip=192.168.1.1/0\n"
                           "allowed_ip=2001:db8::1/128\n")
               .errno_value,
           0);
  const std::string get = uapi_get(h);
  CHECK(contains(get, "allowed_ip=10.0.0.0/24\nallowed_ip=fd00::/64\nallowed_ip=0.0.0.0/0\n"
                      "allowed_ip=2001:db8::1/128\n"));
  CHECK(!contains(get, "10.0.0.77"));
}

TEST(uapi_section_with_our_own_public_key_is_ignored) {
  FakeHost h;
  configure_baseline(h);
  const crypto::Key self = public_of(clamped(kPriv));
  const std::string before = uapi_get(h);
  CHECK_EQ(uapi_set(h, "public_key=" + hex_of(self) + "\nendpoint=192.0.2.7:7\nallowed_ip=10.0.0.0/24\n").errno_value,
           0);
  CHECK(find(h, self) == nullptr);
  CHECK(route(h, "10.0.0.1") == find(h, kPeerA));
  CHECK_EQ(uapi_get(h), before);
  // Its lines are still checked.
  CHECK_EQ(uapi_set(h, "public_key=" + hex_of(self) + "\nendpoint=192.0.2.7:0\n").errno_value, EINVAL);
  // "Our own" means the key set earlier in the same request.
  const crypto::Key self2 = public_of(clamped(kPriv2));
  CHECK_EQ(uapi_set(h, "private_key=" + hex_of(kPriv2) + "\npublic_key=" + hex_of(self2) + "\nallowed_ip=10.5.0.0/16\n")
               .errno_value,
           0);
  CHECK(find(h, self2) == nullptr);
  CHECK(route(h, "10.5.0.1") == nullptr);
}

TEST(uapi_keepalive_is_armed_when_set_and_endpoint_known) {
  FakeHost h;
  configure_baseline(h);
  Peer* a = find(h, kPeerA);
  CHECK(h.out.sent.empty());
  // Keepalive before endpoint in the section: the endpoint is still known when it takes effect.
  CHECK_EQ(uapi_set(h, "public_key=" + hex_of(kPeerA) + "\npersistent_keepalive_interval=25\nendpoint=192.0.2.5:9\n")
               .errno_value,
           0);
  CHECK_EQ(a->persistent_keepalive_interval, uint16_t(25));
  REQUIRE(h.out.sent.size() == 1);  // no session yet: the keepalive starts a handshake
  CHECK(h.out.sent.front().type() == MessageType::kInitiation);
  CHECK(h.out.sent.front().to == Endpoint::v4(192, 0, 2, 5, 9));
  CHECK(a->timers.persistent_keepalive != kNever);
  // Turning it off disarms the timer.
  CHECK_EQ(uapi_set(h, "public_key=" + hex_of(kPeerA) + "\npersistent_keepalive_interval=0\n").errno_value, 0);
  CHECK_EQ(a->persistent_keepalive_interval, uint16_t(0));
  CHECK(a->timers.persistent_keepalive == kNever);
  CHECK(contains(uapi_get(h), "persistent_keepalive_interval=0\n"));
}

TEST(uapi_malformed_lines_are_rejected_and_change_nothing) {
  const std::string priv = hex_of(kPriv2);
  const std::string psk = hex_of(key_of(77));
  const std::string pub = hex_of(kPeerC);
  // Valid lines that would change every part of the device, then the bad line (line 6 or 7).
  const std::string device_prefix = "private_key=" + priv + "\nlisten_port=1000\nfwmark=9\nreplace_peers=true\n";
  const std::string peer_prefix = device_prefix + "public_key=" + pub + "\npreshared_key=" + psk + "\n";
  struct Case {
    std::string body;
    int errno_value;
    int line;
    const char* key;  // expected in the message as "(key)", or nullptr
  };
  const auto peer = [&](const std::string& bad) { return Case{peer_prefix + bad + "\nallowed_ip=10.7.0.0/16\n", EINVAL, 7, nullptr}; };
  const auto dev = [&](const std::string& bad) { return Case{device_prefix + bad + "\npublic_key=" + pub + "\n", EINVAL, 5, nullptr}; };
  std::vector<Case> cases = {
      // keys: length, digits
      dev("private_key=" + priv.substr(1)),
      dev("private_key=" + priv + "0"),
      dev("private_key=" + priv.substr(2) + "zz"),
      dev("private_key="),
      peer("preshared_key=" + psk.substr(0, 62)),
      peer("preshared_key=" + psk.substr(0, 63) + "g"),
      {device_prefix + "public_key=" + pub.substr(1) + "\n", EINVAL, 5, "public_key"},
      {device_prefix + "public_key=" + pub + "x\n", EINVAL, 5, "public_key"},
      // endpoints
      peer("endpoint=192.0.2.1"),
      peer("endpoint=192.0.2.1:"),
      peer("endpoint=192.0.2.1:0"),
      peer("endpoint=192.0.2.1:65536"),
      peer("endpoint=192.0.2.1:+5"),
      peer("endpoint=192.0.2.1: 5"),
      peer("endpoint=2001:db8::1:51820"),
      peer("endpoint=[2001:db8::1]"),
      peer("endpoint=[2001:db8::1]51820"),
      peer("endpoint=[2001:db8::1:51820"),
      peer("endpoint=[192.0.2.1]:51820"),
      peer("endpoint=[fe80::1%eth0]:51820"),
      peer("endpoint=example.com:51820"),
      peer("endpoint=localhost:51820"),
      peer("endpoint=192.0.2.256:1"),
      peer("endpoint="),
      // prefixes
      peer("allowed_ip=10.0.0.0/33"),
      peer("allowed_ip=fd00::/129"),
      peer("allowed_ip=10.0.0/24"),
      peer("allowed_ip=10.0.0.0/"),
      peer("allowed_ip=10.0.0.0/-1"),
      peer("allowed_ip=10.0.0.0/ 8"),
      peer("allowed_ip=10.0.0.0"),
      peer("allowed_ip=garbage/8"),
      peer("allowed_ip="),
      // numbers
      dev("listen_port=65536"),
      dev("listen_port=-1"),
      dev("listen_port="),
      dev("listen_port= 1"),
      dev("fwmark=4294967296"),
      dev("fwmark=0x10"),
      peer("persistent_keepalive_interval=65536"),
      peer("persistent_keepalive_interval=-1"),
      peer("persistent_keepalive_interval=25s"),
      // booleans: only "true"
      dev("replace_peers=false"),
      dev("replace_peers=TRUE"),
      dev("replace_peers="),
      peer("remove=false"),
      peer("replace_allowed_ips=1"),
      // unknown keys, and getter-only keys
      dev("foo=bar"),
      peer("foo=bar"),
      peer("rx_bytes=5"),
      peer("last_handshake_time_sec=1"),
      dev(" listen_port=1"),
      dev("listen_port =1"),
      dev(priv + "=1"),
      // wrong section
      dev("allowed_ip=10.0.0.0/8"),
      dev("endpoint=192.0.2.1:1"),
      dev("protocol_version=1"),
      peer("listen_port=1"),
      peer("fwmark=1"),
      peer("replace_peers=true"),
      peer("private_key=" + priv),
      // protocol version
      peer("protocol_version=2"),
      peer("protocol_version=0"),
      peer("protocol_version="),
      // framing: wireguard-go answers a line without '=' with EPROTO, and so do we
      {device_prefix + "listen_port\n", EPROTO, 5, nullptr},
      {peer_prefix + priv + "\nallowed_ip=10.7.0.0/16\n", EPROTO, 7, nullptr},
      {peer_prefix + "\nallowed_ip=10.7.0.0/16\n", EPROTO, 7, nullptr},
  };
  cases[0].key = "private_key";
  cases[4].key = "preshared_key";

  for (size_t i = 0; i < cases.size(); ++i) {
    FakeHost h;
    configure_baseline(h);
    const std::string before = uapi_get(h);
    const int port_calls = h.port_calls, mark_calls = h.mark_calls;
    const size_t sent = h.out.sent.size();
    const UapiResult r = uapi_set(h, cases[i].body);
    const std::string context = "case " + std::to_string(i) + " -> " + r.message;
    if (r.errno_value != cases[i].errno_value) fail(__FILE__, __LINE__, "errno " + std::to_string(r.errno_value) + ", " + context);
    const std::string line = "line " + std::to_string(cases[i].line);
    if (!(r.message.starts_with(line + " (") || r.message.starts_with(line + ":")))
      fail(__FILE__, __LINE__, "no line number: " + context);
    if (cases[i].key && !contains(r.message, std::string("(") + cases[i].key + ")"))
      fail(__FILE__, __LINE__, "no key name: " + context);
    for (const std::string& secret : {priv, psk, upper(priv), upper(psk), priv.substr(0, 16), psk.substr(0, 16)})
      if (contains(r.message, secret)) fail(__FILE__, __LINE__, "key material in the message: " + context);
    if (uapi_get(h) != before) fail(__FILE__, __LINE__, "state changed: " + context);
    if (h.port_calls != port_calls || h.mark_calls != mark_calls || h.out.sent.size() != sent)
      fail(__FILE__, __LINE__, "host touched: " + context);
  }
}

TEST(uapi_error_message_names_the_line_and_key_but_not_the_value) {
  FakeHost h;
  const std::string psk = hex_of(kPsk);
  UapiResult r = uapi_set(h, "private_key=" + hex_of(kPriv) + "\npublic_key=" + hex_of(kPeerA) + "\npreshared_key=" +
                                 psk.substr(0, 60) + "\n");
  CHECK_EQ(r.errno_value, EINVAL);
  CHECK_EQ(r.message, std::string("line 3 (preshared_key): not 64 hex digits"));
  r = uapi_set(h, "private_key=" + hex_of(kPriv).substr(0, 63) + "q\n");
  CHECK_EQ(r.message, std::string("line 1 (private_key): not a hex digit"));
  r = uapi_set(h, "public_key=" + hex_of(kPeerA) + "\nendpoint=[2001:db8::1]:0\n");
  CHECK_EQ(r.message, std::string("line 2 (endpoint): port must be 1..65535"));
  r = uapi_set(h, "public_key=" + hex_of(kPeerA) + "\nendpoint=2001:db8::1:5\n");
  CHECK_EQ(r.message, std::string("line 2 (endpoint): an IPv6 address must be in brackets: [addr]:port"));
  // A key pasted where a key name belongs is not echoed either.
  r = uapi_set(h, hex_of(kPriv) + "=x\n");
  CHECK_EQ(r.message, std::string("line 1 (?): unknown key"));
  r = uapi_set(h, "listen_port=1\nallowed_ip=10.0.0.0/8\n");
  CHECK_EQ(r.message, std::string("line 2 (allowed_ip): a peer key before any public_key"));
  CHECK_EQ(uapi_get(h), std::string());
}

TEST(uapi_taken_listen_port_changes_nothing) {
  FakeHost h;
  configure_baseline(h);
  const std::string before = uapi_get(h);
  const UapiResult r = uapi_set(h, "private_key=" + hex_of(kPriv2) + "\nlisten_port=" + std::to_string(kTakenPort) +
                                       "\nfwmark=99\nreplace_peers=true\npublic_key=" + hex_of(kPeerC) +
                                       "\nallowed_ip=10.0.0.0/24\n");
  CHECK_EQ(r.errno_value, EADDRINUSE);
  CHECK(contains(r.message, "line 2 (listen_port)"));
  CHECK(!contains(r.message, hex_of(kPriv2)));
  CHECK_EQ(uapi_get(h), before);
  CHECK_EQ(h.port, uint16_t(51820));
  CHECK_EQ(h.mark, uint32_t(7));
}

TEST(uapi_refused_fwmark_restores_the_port_and_changes_nothing) {
  FakeHost h;
  configure_baseline(h);
  const std::string before = uapi_get(h);
  const UapiResult r = uapi_set(h, "listen_port=1234\nfwmark=" + std::to_string(kRefusedMark) +
                                       "\nreplace_peers=true\n");
  CHECK_EQ(r.errno_value, EADDRINUSE);  // wireguard-go's code for a failed fwmark
  CHECK(contains(r.message, "line 2 (fwmark)"));
  CHECK_EQ(h.port, uint16_t(51820));
  CHECK_EQ(uapi_get(h), before);
}

TEST(uapi_trailing_blank_lines_and_missing_final_newline_are_fine) {
  FakeHost h;
  CHECK_EQ(uapi_set(h, "listen_port=5\n\n\n").errno_value, 0);
  CHECK_EQ(uapi_set(h, "fwmark=3").errno_value, 0);
  CHECK_EQ(uapi_get(h), std::string("listen_port=5\nfwmark=3\n"));
  CHECK_EQ(uapi_set(h, "fwmark=0\n").errno_value, 0);
  CHECK_EQ(uapi_get(h), std::string("listen_port=5\n"));
}

TEST(uapi_wgvm_extensions_set_relay_and_isolation_and_stay_out_of_get) {
  FakeHost host;
  const std::string peer = "public_key=" + hex_of(key_of(9)) + "\n";
  CHECK_EQ(device::uapi_set(host, "wgvm_relay=false\n" + peer + "wgvm_isolated=true\n").errno_value, 0);
  CHECK(!host.relay);
  REQUIRE(host.core_.find_peer(key_of(9)) != nullptr);
  CHECK(host.core_.find_peer(key_of(9))->isolated);
  CHECK(device::uapi_get(host).find("wgvm") == std::string::npos);
  CHECK_EQ(device::uapi_set(host, peer + "wgvm_isolated=false\n").errno_value, 0);
  CHECK(!host.core_.find_peer(key_of(9))->isolated);
  CHECK_EQ(device::uapi_set(host, "wgvm_relay=maybe\n").errno_value, EINVAL);
  CHECK_EQ(device::uapi_set(host, peer + "wgvm_isolated=1\n").errno_value, EINVAL);
  CHECK(!host.relay);
}

TEST(uapi_get_stays_what_wg_parses_under_load_and_with_drops) {
  // The DoS figures are read with the socket's own wgvm_counters=1 operation, never through get.
  FakeHost host;
  const std::string peer = "public_key=" + hex_of(key_of(9)) + "\n";
  REQUIRE(device::uapi_set(host, "private_key=" + hex_of(key_of(1)) + "\n" + peer).errno_value == 0);
  const std::string quiet = device::uapi_get(host);

  const Endpoint flooder = Endpoint::v4(203, 0, 113, 9, 4000);
  const uint8_t runt[3] = {1, 0, 0};
  host.core_.receive(Bytes(runt, 3), flooder, host.clock, host.out);
  host.core_.set_handshake_backlog(kUnderLoadBacklog, host.clock.mono);
  std::vector<uint8_t> init(initiation::kSize, 0x5a);  // noise with a valid mac1 and no mac2
  write_header(init.data(), MessageType::kInitiation);
  const crypto::Mac mac1 = crypto::mac(host.core_.identity().mac1_key, {Bytes(init.data(), initiation::kMac1)});
  std::copy(mac1.begin(), mac1.end(), init.begin() + initiation::kMac1);
  std::fill(init.begin() + initiation::kMac2, init.end(), 0);
  host.core_.receive(init, flooder, host.clock, host.out);
  REQUIRE(host.core_.under_load(host.clock.mono));
  REQUIRE(host.core_.drops(protocol::Drop::kTooShort) == 1);

  CHECK_EQ(device::uapi_get(host), quiet);
  CHECK(!contains(device::uapi_get(host), "wgvm"));
  // Nor can a set name such a figure.
  CHECK_EQ(device::uapi_set(host, "wgvm_under_load=true\n").errno_value, EINVAL);
}
