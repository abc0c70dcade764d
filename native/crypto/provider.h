// Direct calls into the default provider's algorithm implementations (provider-base(7)): the
// functions the EVP layer itself ends up in, without the EVP layer's per-call name lookups and
// parameter translation, which cost more than a WireGuard packet's or handshake's arithmetic.
#pragma once

#include <openssl/core.h>

#include <functional>
#include <string_view>

namespace wgvm::crypto::provider {

// The default provider's context, the first argument of its `newctx`/`new` functions. The provider
// stays loaded for the process's lifetime, so its functions stay valid.
void* context();

// Hands each function of the default provider's implementation of `algorithm` (one of its names)
// for `operation` (OSSL_OP_*) to `take`. Returns false when the provider has no such implementation.
bool load_functions(int operation, std::string_view algorithm, const std::function<void(const OSSL_DISPATCH&)>& take);

}  // namespace wgvm::crypto::provider
