// wgvm_bench: native micro-benchmarks. Each benchmark returns its result as one JSON object (text)
// and throws std::runtime_error when something it measured went wrong (the numbers would be meaningless).
#pragma once

#include <chrono>
#include <cstdio>
#include <string>

namespace wgvm::bench {

using Clock = std::chrono::steady_clock;

// The data-plane crypto of one core: ChaCha20-Poly1305 seal and open of 1,420-byte packets.
std::string run_crypto(double seconds);

// Handshakes one responder Core completes per second, over 256 configured peers.
std::string run_handshakes(double seconds);

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
