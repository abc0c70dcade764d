// Native-side checks of the crypto layer that the addon tests cannot reach: in-place operation and
// aliasing, which the protocol core relies on.
#include <openssl/err.h>

#include <cstring>
#include <vector>

#include "crypto/aead.h"
#include "crypto/blake2s.h"
#include "crypto/x25519.h"
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

// WireGuard's KDF as its paper defines it: τ0 = HMAC(key, input), τi = HMAC(τ0, τ(i-1) ‖ i). kdf()
// keys τ1..τ3 once with τ0 (OpenSSL keeps the padded-key states); the outputs must not change.
TEST(kdf3_matches_its_definition_in_hmac) {
  const uint8_t key[32] = {7, 7, 7}, input[32] = {9};
  const Hash t0 = hmac_blake2s(Bytes(key, 32), {Bytes(input, 32)});
  const uint8_t one = 1, two = 2, three = 3;
  const Hash t1 = hmac_blake2s(t0, {Bytes(&one, 1)});
  const Hash t2 = hmac_blake2s(t0, {t1, Bytes(&two, 1)});
  const Hash t3 = hmac_blake2s(t0, {t2, Bytes(&three, 1)});
  Hash o1, o2, o3;
  kdf(Bytes(key, 32), Bytes(input, 32), o1.data(), o2.data(), o3.data());
  CHECK_EQ(o1, t1);
  CHECK_EQ(o2, t2);
  CHECK_EQ(o3, t3);
  // An HMAC with another key in between (as the handshake interleaves them) changes nothing.
  Hash again;
  kdf(Bytes(key, 32), Bytes(input, 32), nullptr, nullptr, again.data());
  CHECK_EQ(again, t3);
}

// A small-order peer key is refused without touching what the thread's OpenSSL error queue held
// before, and without leaving errors of its own there.
TEST(x25519_refusal_leaves_the_openssl_error_queue_as_it_was) {
  const uint8_t priv[32] = {1, 2, 3}, small_order[32] = {1};  // u = 1: order 4 on Curve25519
  uint8_t out[32];
  ERR_clear_error();
  CHECK(!x25519(out, priv, small_order));
  CHECK_EQ(ERR_peek_error(), 0UL);
  ERR_raise(ERR_LIB_USER, 42);  // someone else's pending error
  const unsigned long before = ERR_peek_last_error();
  CHECK(!X25519PrivateKey(priv).dh(out, small_order));
  CHECK_EQ(ERR_peek_last_error(), before);
  CHECK_EQ(ERR_get_error(), before);
  CHECK_EQ(ERR_get_error(), 0UL);
}
