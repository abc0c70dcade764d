// Fixed-size byte arrays and spans shared by the crypto, protocol and device layers.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace wgvm {

using Bytes = std::span<const uint8_t>;
using MutableBytes = std::span<uint8_t>;

template <size_t N>
using ByteArray = std::array<uint8_t, N>;

// Erases secrets in a way the optimiser may not elide.
void secure_zero(void* p, size_t n);

template <size_t N>
void secure_zero(ByteArray<N>& a) { secure_zero(a.data(), N); }

// Constant-time equality, for comparing MACs and secrets.
bool equal_ct(Bytes a, Bytes b);

// Cryptographically secure random bytes from libcrypto's DRBG; aborts if the DRBG cannot be seeded.
void random_bytes(uint8_t* out, size_t n);

}  // namespace wgvm
