// WireGuard's protocol constants (the WireGuard paper §6 and the Linux kernel's messages.h).
#pragma once

#include <cstddef>
#include <cstdint>

namespace wgvm::protocol {

// Time is injected as nanoseconds; the core never reads a clock.
using Nanos = int64_t;
constexpr Nanos kMillisecond = 1'000'000;
constexpr Nanos kSecond = 1'000'000'000;

constexpr uint64_t kRekeyAfterMessages = 1ULL << 60;
constexpr uint64_t kRejectAfterMessages = UINT64_MAX - (1ULL << 13);  // 2^64 − 2^13 − 1
constexpr Nanos kRekeyAfterTime = 120 * kSecond;
constexpr Nanos kRejectAfterTime = 180 * kSecond;
constexpr Nanos kRekeyAttemptTime = 90 * kSecond;
constexpr Nanos kRekeyTimeout = 5 * kSecond;
constexpr Nanos kRekeyTimeoutJitterMax = 334 * kMillisecond;  // jitter drawn from [0, 334 ms)
constexpr Nanos kKeepaliveTimeout = 10 * kSecond;
constexpr Nanos kCookieRefreshTime = 120 * kSecond;
constexpr Nanos kHandshakeInitiationRate = kSecond / 50;  // at most 50 consumed initiations per second per peer
constexpr int kMaxTimerHandshakes = static_cast<int>(kRekeyAttemptTime / kRekeyTimeout);  // 18 retries
// The initiator rekeys on receive this long before its keypair would be rejected (165 s).
constexpr Nanos kRekeyOnReceiveAge = kRejectAfterTime - kKeepaliveTimeout - kRekeyTimeout;

// Under load, for how long after the handshake backlog drops below the threshold cookies stay on.
constexpr Nanos kUnderLoadAfterTime = kSecond;
// Handshake messages found waiting at once. The device reads datagrams in batches of 32 (up to 64
// per turn of its loop): a full batch of handshakes means they arrive faster than they are handled.
constexpr size_t kUnderLoadBacklog = 32;
// Handshake messages with a valid mac1 per second (counted per eighth of a second) above which the
// device is under load even without a backlog, so the Diffie-Hellman work it does without cookies is
// bounded by this rate; under load it is also the budget of all sources together (LoadDetector).
constexpr uint32_t kUnderLoadHandshakesPerSecond = 1000;

// Handshake rate limit per source address: a token bucket.
constexpr int kHandshakesPerSecond = 20;
constexpr int kHandshakeBurst = 5;
// Sources the handshake rate limiter tracks at once (as the kernel's max_entries): a flood from more
// addresses than this gets no new buckets, so the table cannot grow without bound; it is refused.
constexpr size_t kMaxRateLimiterSources = 65536;

constexpr size_t kMaxStagedPackets = 128;  // packets queued per peer while a handshake is under way

}  // namespace wgvm::protocol
