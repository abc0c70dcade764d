// WireGuard's cross-platform UAPI text protocol (https://www.wireguard.com/xplatform/): the `get=1`
// and `set=1` bodies that `wg` speaks, applied to a device. A set is all-or-nothing: every line is
// parsed and checked before anything changes, and an error names the offending line.
// Two keys are ours, for the hub: `wgvm_relay=true|false` (device) and `wgvm_isolated=true|false`
// (peer). `wg` never sends them and get never prints them, so `wg` sees plain WireGuard.
// Get prints nothing else of ours either: the data plane's figures (drops by reason, handshakes
// admitted past the DoS checks, under load) are Device::counters(), which the control socket
// answers as an operation of its own, `wgvm_counters=1` (src/uapi/server.ts).
#pragma once

#include <string>
#include <string_view>

#include "protocol/core.h"

namespace wgvm::device {

// What the UAPI needs from a device besides its protocol core.
class UapiHost {
 public:
  virtual ~UapiHost() = default;
  virtual protocol::Core& core() = 0;
  virtual protocol::Now now() const = 0;
  virtual protocol::Output& output() = 0;  // where keepalives triggered by a set go
  virtual uint16_t listen_port() const = 0;
  // Rebinds the UDP sockets; 0 picks a free port. False (with a reason) when the port is taken.
  virtual bool set_listen_port(uint16_t port, std::string* error) = 0;
  virtual uint32_t fwmark() const = 0;
  virtual bool set_fwmark(uint32_t mark, std::string* error) = 0;
  // Our extension (wgvm_relay=true|false): relay between peers inside the device.
  virtual void apply_relay(bool on) = 0;
};

struct UapiResult {
  int errno_value = 0;  // 0, or a positive errno (EINVAL, EADDRINUSE, EPROTO …); sent as errno=-N
  std::string message;  // for errors: "line 3 (public_key=…): not 64 hex digits" — never a secret
};

// Applies the lines of a `set=1` request (without the "set=1" line and without the blank line that ends it).
UapiResult uapi_set(UapiHost&, std::string_view body);

// The lines answering `get=1`, each ending in '\n', without the final errno line and blank line.
std::string uapi_get(UapiHost&);

}  // namespace wgvm::device
