// A token bucket per source (an IPv4 address or an IPv6 /64) for handshake messages under load
// (20 per second, burst 5), as WireGuard's ratelimiter does. Entries idle for a second are forgotten;
// at most kMaxRateLimiterSources are tracked, and a new source beyond that is refused.
#pragma once

#include <unordered_map>

#include "protocol/constants.h"
#include "protocol/endpoint.h"

namespace wgvm::protocol {

class RateLimiter {
 public:
  // Takes a token for `from`'s address or /64 (the port is ignored); false when its bucket is empty.
  bool allow(const Endpoint& from, Nanos now);
  size_t tracked() const { return buckets_.size(); }

 private:
  struct Bucket {
    Nanos tokens;  // in nanoseconds of credit: one packet costs kPacketCost
    Nanos last;
  };
  struct AddressHash {
    size_t operator()(const std::array<uint8_t, 17>& a) const noexcept;
  };
  void collect_garbage(Nanos now);

  std::unordered_map<std::array<uint8_t, 17>, Bucket, AddressHash> buckets_;
  Nanos last_gc_ = 0;
};

}  // namespace wgvm::protocol
