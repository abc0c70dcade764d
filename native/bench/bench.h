// wgvm_bench: native micro-benchmarks. Each benchmark returns its result as one JSON object (text)
// and throws std::runtime_error when something it measured went wrong (the numbers would be meaningless).
#pragma once

#include <time.h>

#include <chrono>
#include <cstddef>
#include <cstdio>
#include <string>

namespace wgvm::bench {

// The CPU time of the calling thread: rates are per core even on a machine shared with other work,
// as `openssl speed` (which counts user CPU time) reports them beside ours.
struct Clock {
  using duration = std::chrono::nanoseconds;
  using rep = duration::rep;
  using period = duration::period;
  using time_point = std::chrono::time_point<Clock>;
  static constexpr bool is_steady = true;
  static time_point now() {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return time_point(duration(rep(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec));
  }
};

// The data-plane crypto of one core: ChaCha20-Poly1305 seal and open of 1,420-byte packets.
std::string run_crypto(double seconds);

// Handshakes one responder Core completes per second, over 256 configured peers.
std::string run_handshakes(double seconds);

// The device's transport crypto in batches on a pool of `threads` threads, per wall-clock second.
std::string run_pool(double seconds, size_t threads);

inline double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// A number for JSON output with a fixed number of decimals.
inline std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

}  // namespace wgvm::bench
