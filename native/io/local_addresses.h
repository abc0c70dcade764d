// The addresses the device's own interface holds (wg-quick's Address lines), re-read at most once a
// second. A packet for one of them is for this host: the device writes it to the TUN and never
// relays it, even when a peer's allowed IPs (a hub's whole subnet, on a worker) also cover it.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace wgvm::io {

class LocalAddresses {
 public:
  explicit LocalAddresses(std::string interface_name) : interface_(std::move(interface_name)) {}

  /** Whether the interface holds `address` (4 or 16 bytes, by `version`); `now_ns` is monotonic. */
  bool holds(uint8_t version, const uint8_t* address, int64_t now_ns);

 private:
  void refresh();

  static constexpr int64_t kRefreshNs = 1'000'000'000;
  std::string interface_;
  int64_t read_at_ns_ = 0;
  bool read_ = false;
  std::vector<std::array<uint8_t, 16>> v6_;
  std::vector<std::array<uint8_t, 4>> v4_;
};

}  // namespace wgvm::io
