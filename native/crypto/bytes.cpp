#include "crypto/bytes.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <climits>
#include <cstdlib>

namespace wgvm {

void secure_zero(void* p, size_t n) { OPENSSL_cleanse(p, n); }

bool equal_ct(Bytes a, Bytes b) { return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0; }

void random_bytes(uint8_t* out, size_t n) {
  // Keys made from a failed DRBG would be predictable; refusing to continue is the only safe answer.
  if (n > INT_MAX || RAND_bytes(out, static_cast<int>(n)) != 1) std::abort();
}

}  // namespace wgvm
