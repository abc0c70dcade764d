// A token bucket per source (an IPv4 address or an IPv6 /64) for handshake messages under load
// (20 per second, burst 5), as WireGuard's ratelimiter does. Entries idle for a second are forgotten;
// at most kMaxRateLimiterSources are tracked, and a new source beyond that is refused.
// Buckets are found by a BLAKE2s digest of the source keyed with a random key drawn at start (the
// kernel keys SipHash the same way): whoever picks the source addresses of a flood cannot aim them
// all at one chain of the table, as they could against an unkeyed hash.
#pragma once

#include <array>
#include <cstdint>
#include <unordered_map>

#include "protocol/constants.h"
#include "protocol/endpoint.h"
#include "protocol/random.h"

namespace wgvm::protocol {

class RateLimiter {
 public:
  explicit RateLimiter(Random& rng);

  // Takes a token for `from`'s address or /64 (the port is ignored); false when its bucket is empty.
  bool allow(const Endpoint& from, Nanos now);
  size_t tracked() const { return buckets_.size(); }
  // Which bucket `from` counts against: its address (or /64) digested with this limiter's key. Two
  // sources share one only if 64-bit digests collide (about 2^-33 for a full table), by chance alone.
  uint64_t bucket_of(const Endpoint& from) const;

 private:
  struct Bucket {
    Nanos tokens;  // in nanoseconds of credit: one packet costs kPacketCost
    Nanos last;
  };
  void collect_garbage(Nanos now);

  std::array<uint8_t, 16> key_;
  std::unordered_map<uint64_t, Bucket> buckets_;  // by bucket_of(): already uniform, std::hash suffices
  Nanos last_gc_ = 0;
};

}  // namespace wgvm::protocol
