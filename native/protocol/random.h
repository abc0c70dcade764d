// The random source, injected so that tests are deterministic.
#pragma once

#include <cstddef>
#include <cstdint>

namespace wgvm::protocol {

class Random {
 public:
  virtual ~Random() = default;
  virtual void fill(uint8_t* out, size_t n) = 0;

  uint32_t u32() {
    uint8_t b[4];
    fill(b, 4);
    return uint32_t(b[0]) | uint32_t(b[1]) << 8 | uint32_t(b[2]) << 16 | uint32_t(b[3]) << 24;
  }
};

// libcrypto's DRBG: what a running device uses.
class SystemRandom final : public Random {
 public:
  void fill(uint8_t* out, size_t n) override;
};

}  // namespace wgvm::protocol
