// Native-side checks of the crypto layer that the addon tests cannot reach: in-place operation and
// aliasing, which the protocol core relies on.
#include <cstring>
#include <vector>

#include "crypto/aead.h"
#include "crypto/blake2s.h"
#include "harness.h"

using namespace wgvm;
using namespace wgvm::crypto;

TEST(aead_seals_and_opens_in_place) {
  uint8_t key[32] = {1};
  auto nonce = counter_nonce(42);
  std::vector<uint8_t> buf(100 + kAeadTagLen, 0x33);
  std::vector<uint8_t> plain(buf.begin(), buf.begin() + 100);
  aead_seal(key, nonce.data(), Bytes(buf.data(), 100), {}, buf.data());
  CHECK(std::memcmp(buf.data(), plain.data(), 100) != 0);
  REQUIRE(aead_open(key, nonce.data(), Bytes(buf.data(), buf.size()), {}, buf.data()));
  CHECK(std::memcmp(buf.data(), plain.data(), 100) == 0);
}

TEST(counter_nonce_is_little_endian_after_four_zero_bytes) {
  auto n = counter_nonce(0x0102030405060708ULL);
  const uint8_t want[12] = {0, 0, 0, 0, 8, 7, 6, 5, 4, 3, 2, 1};
  CHECK(std::memcmp(n.data(), want, 12) == 0);
}

TEST(kdf_output_may_alias_its_key) {
  Hash ck = blake2s({Bytes(reinterpret_cast<const uint8_t*>("ck"), 2)});
  const uint8_t input[3] = {1, 2, 3};
  Hash expected1, expected2;
  kdf(ck, Bytes(input, 3), expected1.data(), expected2.data());
  Hash aliased = ck, second;
  kdf(aliased, Bytes(input, 3), aliased.data(), second.data());
  CHECK_EQ(aliased, expected1);
  CHECK_EQ(second, expected2);
}
