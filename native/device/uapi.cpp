// The UAPI `set` and `get` bodies (https://www.wireguard.com/xplatform/), modelled on wireguard-go's
// device/uapi.go (IpcSetOperation / IpcGetOperation) but with one structural difference: a set is
// parsed and validated completely into a plan before anything is applied, so a bad line anywhere
// leaves the device exactly as it was (wireguard-go applies line by line and stops half-way).
//
// Differences from wireguard-go, on purpose:
//  - All-or-nothing, as above. The listen port (the one step that can fail for reasons outside the
//    request) is changed first; the fwmark second, and if that fails the old port is restored.
//  - A line without '=' and an empty line before the end of the body are EPROTO (wireguard-go:
//    EPROTO for the former; for the latter it ends the set and then reads the rest as a new
//    operation and hangs up). Every other bad line is EINVAL, protocol_version other than 1 included
//    (wireguard-go returns EINVAL there too).
//  - `update_only=true` must be the first line after `public_key` (wg never sends it; wireguard-go
//    accepts it anywhere, having already applied the lines before it to a peer it then deletes).
//  - `endpoint` is numeric only (inet_pton): no IPv6 zone ("%eth0"), since an Endpoint has no scope
//    id; port 0 is refused (wireguard-go's netip.ParseAddrPort accepts it).
//  - `allowed_ip` needs the "/cidr" part, as wireguard-go's netip.ParsePrefix does (wg always sends it).
//  - `persistent_keepalive_interval` goes through Core::set_persistent_keepalive at the end of its
//    peer's section (so the endpoint from the same section is known), and only when the value
//    changes: turning it on sends a keepalive as wireguard-go does; changing one non-zero value to
//    another also sends one (wireguard-go waits for the next packet) — harmless.
//  - Error messages name the line and the key, never the value (no key material can leak, even a
//    key pasted under the wrong name).
#include "device/uapi.h"

#include <arpa/inet.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <vector>

#include "crypto/x25519.h"
#include "routing/prefix.h"

namespace wgvm::device {

namespace {

using crypto::Key;
using protocol::Core;
using protocol::Endpoint;
using protocol::Peer;

// --- value parsers: each returns nullopt (and says why) for anything but the exact form wg sends

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// 64 hex digits, either case. Never echoes the text.
bool parse_key(std::string_view text, Key& out, const char** why) {
  if (text.size() != 2 * out.size()) {
    *why = "not 64 hex digits";
    return false;
  }
  for (size_t i = 0; i < out.size(); ++i) {
    const int hi = hex_digit(text[2 * i]);
    const int lo = hex_digit(text[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      secure_zero(out);
      *why = "not a hex digit";
      return false;
    }
    out[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return true;
}

bool is_zero(const Key& key) {
  uint8_t acc = 0;
  for (uint8_t b : key) acc |= b;
  return acc == 0;
}

// Decimal digits only (no sign, no spaces, leading zeros allowed), at most `max`.
std::optional<uint64_t> parse_decimal(std::string_view text, uint64_t max) {
  if (text.empty()) return std::nullopt;
  uint64_t value = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<uint64_t>(c - '0');
    if (value > max) return std::nullopt;  // also stops overflow: max < 2^64 / 10
  }
  return value;
}

// inet_pton on a string_view: false for embedded NULs or anything too long to be an address.
bool parse_address(int af, std::string_view text, uint8_t* out) {
  char z[INET6_ADDRSTRLEN];
  if (text.empty() || text.size() >= sizeof z || text.find('\0') != std::string_view::npos) return false;
  std::memcpy(z, text.data(), text.size());
  z[text.size()] = '\0';
  return inet_pton(af, z, out) == 1;
}

// "a.b.c.d:port" or "[ipv6]:port", numeric, port 1..65535.
std::optional<Endpoint> parse_endpoint(std::string_view text, const char** why) {
  Endpoint e;
  std::string_view host, port;
  if (!text.empty() && text[0] == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos) {
      *why = "'[' without ']'";
      return std::nullopt;
    }
    host = text.substr(1, close - 1);
    const std::string_view rest = text.substr(close + 1);
    if (rest.empty() || rest[0] != ':') {
      *why = "no \":port\" after the address";
      return std::nullopt;
    }
    port = rest.substr(1);
    if (!parse_address(AF_INET6, host, e.addr.data())) {
      *why = "not a numeric IPv6 address inside the brackets";
      return std::nullopt;
    }
    e.family = 6;
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      *why = "no \":port\"";
      return std::nullopt;
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      *why = "an IPv6 address must be in brackets: [addr]:port";
      return std::nullopt;
    }
    if (!parse_address(AF_INET, host, e.addr.data())) {
      *why = "not a numeric IPv4 address (host names are not resolved here)";
      return std::nullopt;
    }
    e.family = 4;
  }
  const auto number = parse_decimal(port, 65535);
  if (!number || *number == 0) {
    *why = "port must be 1..65535";
    return std::nullopt;
  }
  e.port = static_cast<uint16_t>(*number);
  return e;
}

// --- the plan: everything a set will do, checked before any of it is done

struct PeerOp {
  enum Kind : uint8_t { kPresharedKey, kEndpoint, kKeepalive, kReplaceAllowedIps, kAllowedIp, kRemove, kIsolated };
  explicit PeerOp(Kind k) : kind(k) {}
  Kind kind;
  size_t secret = 0;  // kPresharedKey: index into Plan::secrets
  Endpoint endpoint;
  uint16_t keepalive = 0;
  routing::Prefix prefix;
  bool isolated = false;
};

struct PeerPlan {
  Key public_key{};
  size_t line = 0;
  bool update_only = false;
  std::vector<PeerOp> ops;  // in request order
};

struct Plan {
  std::optional<Key> private_key;  // all zeros: clear
  std::optional<uint16_t> listen_port;
  size_t listen_port_line = 0;
  std::optional<uint32_t> fwmark;
  size_t fwmark_line = 0;
  bool replace_peers = false;
  std::optional<bool> relay;
  std::vector<PeerPlan> peers;
  // Preshared keys, reserved up front so that no reallocation leaves unerased copies behind.
  std::vector<Key> secrets;

  Plan() = default;
  Plan(const Plan&) = delete;
  Plan& operator=(const Plan&) = delete;
  ~Plan() {
    if (private_key) secure_zero(*private_key);
    for (Key& k : secrets) secure_zero(k);
  }
};

// A key name fit to print: the known names are lower case and underscores; anything else is shown
// as "?" so that a secret pasted where a key name belongs is never echoed.
std::string printable_key(std::string_view key) {
  if (key.empty() || key.size() > 40) return "?";
  for (const char c : key)
    if (!(c >= 'a' && c <= 'z') && c != '_') return "?";
  return std::string(key);
}

UapiResult error(int errno_value, size_t line, std::string_view key, std::string_view what) {
  std::string message = "line " + std::to_string(line);
  if (!key.empty()) message += " (" + printable_key(key) + ")";
  message += ": ";
  message += what;
  return {errno_value, std::move(message)};
}

bool is_device_key(std::string_view key) {
  return key == "private_key" || key == "listen_port" || key == "fwmark" || key == "replace_peers" ||
         key == "wgvm_relay";
}

bool is_peer_key(std::string_view key) {
  return key == "remove" || key == "update_only" || key == "preshared_key" || key == "endpoint" ||
         key == "persistent_keepalive_interval" || key == "replace_allowed_ips" || key == "allowed_ip" ||
         key == "protocol_version" || key == "wgvm_isolated";
}

// Fills `plan` from the body, or returns the error for the first bad line (errno_value 0: all good).
UapiResult parse(std::string_view body, Plan& plan) {
  // Lines end in '\n'; the last may lack it. Empty lines may only trail.
  std::vector<std::string_view> lines;
  for (size_t start = 0; start < body.size();) {
    const size_t end = body.find('\n', start);
    if (end == std::string_view::npos) {
      lines.push_back(body.substr(start));
      break;
    }
    lines.push_back(body.substr(start, end - start));
    start = end + 1;
  }
  while (!lines.empty() && lines.back().empty()) lines.pop_back();
  size_t secret_lines = 0;
  for (const std::string_view line : lines) secret_lines += line.starts_with("preshared_key=");
  plan.secrets.reserve(secret_lines);

  PeerPlan* peer = nullptr;
  for (size_t i = 0; i < lines.size(); ++i) {
    const size_t n = i + 1;
    const std::string_view line = lines[i];
    if (line.empty()) return error(EPROTO, n, {}, "empty line before the end of the request");
    const size_t eq = line.find('=');
    if (eq == std::string_view::npos) return error(EPROTO, n, {}, "not key=value");
    const std::string_view key = line.substr(0, eq);
    const std::string_view value = line.substr(eq + 1);
    const char* why = nullptr;

    if (key == "public_key") {
      PeerPlan& p = plan.peers.emplace_back();
      if (!parse_key(value, p.public_key, &why)) return error(EINVAL, n, key, why);
      p.line = n;
      peer = &p;
      continue;
    }

    if (is_device_key(key)) {
      if (peer != nullptr) return error(EINVAL, n, key, "a device key after the first public_key");
      if (key == "private_key") {
        Key k{};
        if (!parse_key(value, k, &why)) return error(EINVAL, n, key, why);
        plan.private_key = k;
        secure_zero(k);
      } else if (key == "listen_port") {
        const auto port = parse_decimal(value, 65535);
        if (!port) return error(EINVAL, n, key, "not a number in 0..65535");
        plan.listen_port = static_cast<uint16_t>(*port);
        plan.listen_port_line = n;
      } else if (key == "fwmark") {
        const auto mark = parse_decimal(value, UINT32_MAX);
        if (!mark) return error(EINVAL, n, key, "not a number in 0..4294967295");
        plan.fwmark = static_cast<uint32_t>(*mark);
        plan.fwmark_line = n;
      } else if (key == "wgvm_relay") {
        if (value != "true" && value != "false") return error(EINVAL, n, key, "must be \"true\" or \"false\"");
        plan.relay = value == "true";
      } else {  // replace_peers
        if (value != "true") return error(EINVAL, n, key, "the only valid value is \"true\"");
        plan.replace_peers = true;
      }
      continue;
    }

    if (!is_peer_key(key)) return error(EINVAL, n, key, "unknown key");
    if (peer == nullptr) return error(EINVAL, n, key, "a peer key before any public_key");

    if (key == "update_only") {
      if (value != "true") return error(EINVAL, n, key, "the only valid value is \"true\"");
      if (n != peer->line + 1) return error(EINVAL, n, key, "must come right after public_key");
      peer->update_only = true;
    } else if (key == "remove") {
      if (value != "true") return error(EINVAL, n, key, "the only valid value is \"true\"");
      peer->ops.emplace_back(PeerOp::kRemove);
    } else if (key == "replace_allowed_ips") {
      if (value != "true") return error(EINVAL, n, key, "the only valid value is \"true\"");
      peer->ops.emplace_back(PeerOp::kReplaceAllowedIps);
    } else if (key == "preshared_key") {
      PeerOp& op = peer->ops.emplace_back(PeerOp::kPresharedKey);
      op.secret = plan.secrets.size();
      if (!parse_key(value, plan.secrets.emplace_back(), &why)) return error(EINVAL, n, key, why);
    } else if (key == "endpoint") {
      const auto e = parse_endpoint(value, &why);
      if (!e) return error(EINVAL, n, key, why);
      PeerOp op(PeerOp::kEndpoint);
      op.endpoint = *e;
      peer->ops.push_back(op);
    } else if (key == "persistent_keepalive_interval") {
      const auto seconds = parse_decimal(value, 65535);
      if (!seconds) return error(EINVAL, n, key, "not a number in 0..65535");
      PeerOp op(PeerOp::kKeepalive);
      op.keepalive = static_cast<uint16_t>(*seconds);
      peer->ops.push_back(op);
    } else if (key == "allowed_ip") {
      const auto prefix = value.find('/') == std::string_view::npos ? std::nullopt : routing::parse_prefix(value);
      if (!prefix) return error(EINVAL, n, key, "not address/cidr (IPv4 /0..32, IPv6 /0..128)");
      PeerOp op(PeerOp::kAllowedIp);
      op.prefix = *prefix;
      peer->ops.push_back(op);
    } else if (key == "wgvm_isolated") {
      if (value != "true" && value != "false") return error(EINVAL, n, key, "must be \"true\" or \"false\"");
      PeerOp op(PeerOp::kIsolated);
      op.isolated = value == "true";
      peer->ops.push_back(op);
    } else {  // protocol_version
      if (value != "1") return error(EINVAL, n, key, "only protocol version 1 exists");
    }
  }
  return {};
}

void apply_peer(UapiHost& host, const Plan& all, const PeerPlan& plan) {
  Core& core = host.core();
  // A peer with our own public key would be ourselves: wireguard-go skips its section silently.
  if (core.identity().has_key && equal_ct(plan.public_key, core.identity().public_key)) return;
  Peer* peer = core.find_peer(plan.public_key);
  if (peer == nullptr) {
    if (plan.update_only) return;
    peer = &core.add_peer(plan.public_key);
  }
  std::optional<uint16_t> keepalive;
  for (const PeerOp& op : plan.ops) {
    switch (op.kind) {
      case PeerOp::kPresharedKey:
        core.set_preshared_key(*peer, all.secrets[op.secret]);
        break;
      case PeerOp::kEndpoint:
        // The same address again (`wg syncconf`, the hub's reconciler) keeps the source it is
        // answered from; a new one starts with the kernel's choice.
        if (!peer->endpoint.same_remote(op.endpoint)) peer->endpoint = op.endpoint;
        break;
      case PeerOp::kKeepalive:
        keepalive = op.keepalive;
        break;
      case PeerOp::kReplaceAllowedIps:
        core.allowed_ips().remove_all(peer);
        break;
      case PeerOp::kAllowedIp:
        core.allowed_ips().insert(op.prefix, peer);  // masks host bits; moves a prefix from another peer
        break;
      case PeerOp::kIsolated:
        peer->isolated = op.isolated;
        break;
      case PeerOp::kRemove:
        core.remove_peer(*peer);  // the rest of the section was checked and is ignored, as in wireguard-go
        return;
    }
  }
  if (keepalive && *keepalive != peer->persistent_keepalive_interval)
    core.set_persistent_keepalive(*peer, *keepalive, host.now(), host.output());
}

}  // namespace

UapiResult uapi_set(UapiHost& host, std::string_view body) {
  Plan plan;
  if (UapiResult bad = parse(body, plan); bad.errno_value != 0) return bad;

  // The steps that can fail come first, so that a failure leaves everything else untouched.
  const uint16_t old_port = host.listen_port();
  bool port_changed = false;
  if (plan.listen_port && (*plan.listen_port == 0 || *plan.listen_port != old_port)) {
    std::string why;
    if (!host.set_listen_port(*plan.listen_port, &why))
      return error(EADDRINUSE, plan.listen_port_line, "listen_port", why.empty() ? "cannot bind the port" : why);
    port_changed = true;
  }
  if (plan.fwmark && *plan.fwmark != host.fwmark()) {
    std::string why;
    if (!host.set_fwmark(*plan.fwmark, &why)) {
      // wireguard-go answers a failed fwmark with EADDRINUSE (IpcErrorPortInUse) too.
      UapiResult result = error(EADDRINUSE, plan.fwmark_line, "fwmark", why.empty() ? "cannot set the mark" : why);
      std::string restore_why;
      if (port_changed && !host.set_listen_port(old_port, &restore_why))
        result.message += "; restoring listen_port " + std::to_string(old_port) + " failed too: " + restore_why;
      return result;
    }
  }

  Core& core = host.core();
  if (plan.relay) host.apply_relay(*plan.relay);
  if (plan.replace_peers) core.remove_all_peers();
  if (plan.private_key) {
    if (is_zero(*plan.private_key)) {
      if (core.identity().has_key) core.clear_private_key();
    } else {
      core.set_private_key(*plan.private_key);  // a no-op when unchanged, so `wg syncconf` keeps sessions
    }
  }
  for (const PeerPlan& peer : plan.peers) apply_peer(host, plan, peer);
  return {};
}

// wireguard-go's IpcGetOperation order, with these differences:
//  - peers come in the order they were added (Core::for_each_peer); wireguard-go walks a Go map,
//    whose order is random.
//  - listen_port is omitted when the host reports 0 (no socket bound), as wireguard-go does.
std::string uapi_get(UapiHost& host) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  const auto key_line = [&out](const char* name, const Key& key) {
    out += name;
    out += '=';
    for (const uint8_t b : key) {
      out += kHex[b >> 4];
      out += kHex[b & 15];
    }
    out += '\n';
  };
  const auto number_line = [&out](const char* name, uint64_t value) {
    out += name;
    out += '=';
    out += std::to_string(value);
    out += '\n';
  };

  Core& core = host.core();
  if (core.identity().has_key) key_line("private_key", core.identity().private_key);
  if (host.listen_port() != 0) number_line("listen_port", host.listen_port());
  if (host.fwmark() != 0) number_line("fwmark", host.fwmark());

  core.for_each_peer([&](Peer& peer) {
    key_line("public_key", peer.public_key());
    key_line("preshared_key", peer.statics.preshared_key);
    out += "protocol_version=1\n";
    if (peer.endpoint.valid()) {
      out += "endpoint=";
      out += protocol::to_string(peer.endpoint);
      out += '\n';
    }
    const protocol::Nanos wall = peer.last_handshake_wall > 0 ? peer.last_handshake_wall : 0;
    number_line("last_handshake_time_sec", static_cast<uint64_t>(wall / protocol::kSecond));
    number_line("last_handshake_time_nsec", static_cast<uint64_t>(wall % protocol::kSecond));
    number_line("tx_bytes", peer.tx_bytes);
    number_line("rx_bytes", peer.rx_bytes);
    number_line("persistent_keepalive_interval", peer.persistent_keepalive_interval);
    for (const routing::Prefix& prefix : core.allowed_ips().list(&peer)) {
      out += "allowed_ip=";
      out += routing::to_string(prefix);
      out += '\n';
    }
  });
  return out;
}

}  // namespace wgvm::device
