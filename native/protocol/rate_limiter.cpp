#include "protocol/rate_limiter.h"

#include <algorithm>
#include <cstring>

#include "crypto/blake2s.h"

namespace wgvm::protocol {
namespace {

constexpr Nanos kPacketCost = kSecond / kHandshakesPerSecond;
constexpr Nanos kMaxTokens = kPacketCost * kHandshakeBurst;
constexpr Nanos kForgetAfter = kSecond;

}  // namespace

RateLimiter::RateLimiter(Random& rng) { rng.fill(key_.data(), key_.size()); }

uint64_t RateLimiter::bucket_of(const Endpoint& from) const {
  // One bucket per IPv4 address, and per IPv6 /64 as the Linux kernel does: whoever holds a /64
  // can use any of its 2^64 addresses, so a bucket per full address would not limit anyone.
  std::array<uint8_t, 9> source{};
  source[0] = from.family;
  std::memcpy(source.data() + 1, from.addr.data(), from.family == 6 ? 8 : from.addr_len());
  uint8_t digest[8];
  crypto::blake2s_keyed(digest, sizeof digest, Bytes(key_), {Bytes(source)});
  uint64_t bucket;
  std::memcpy(&bucket, digest, sizeof bucket);
  return bucket;
}

bool RateLimiter::allow(const Endpoint& from, Nanos now) {
  if (now - last_gc_ >= kSecond) collect_garbage(now);
  const uint64_t key = bucket_of(from);
  auto found = buckets_.find(key);
  // Full: no bucket, no handshake. (No extra sweep here: that would cost a flood O(table) per packet;
  // the sweep above, once a second, makes room.)
  if (found == buckets_.end() && buckets_.size() >= kMaxRateLimiterSources) return false;
  auto [it, fresh] = found != buckets_.end() ? std::pair{found, false} : buckets_.try_emplace(key, Bucket{kMaxTokens, now});
  Bucket& b = it->second;
  if (!fresh) {
    b.tokens = std::min(kMaxTokens, b.tokens + (now - b.last));
    b.last = now;
  }
  if (b.tokens < kPacketCost) return false;
  b.tokens -= kPacketCost;
  return true;
}

void RateLimiter::collect_garbage(Nanos now) {
  std::erase_if(buckets_, [now](const auto& entry) { return now - entry.second.last > kForgetAfter; });
  last_gc_ = now;
}

}  // namespace wgvm::protocol
