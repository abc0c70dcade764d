// Direct calls into the default provider's algorithm implementations (provider-base(7)): the
// functions the EVP layer itself ends up in, without the EVP layer's per-call name lookups and
// parameter translation, which cost more than a WireGuard packet's or handshake's arithmetic.
#pragma once

#include <openssl/core.h>

#include <initializer_list>
#include <string_view>

namespace wgvm::crypto::provider {

// The default provider's context, the first argument of its `newctx`/`new` functions. The provider
// stays loaded for the process's lifetime, so its functions stay valid.
void* context();

// One function wanted from an implementation: its id (OSSL_FUNC_*) and the pointer to set, of the
// type core_dispatch.h gives that id (the cast its OSSL_FUNC_* accessors make).
class Wanted {
 public:
  template <typename F>
  Wanted(int id, F** target)
      : id_(id), target_(target), store_([](void* t, Function f) { *static_cast<F**>(t) = reinterpret_cast<F*>(f); }) {}

  int id() const { return id_; }
  void store(const OSSL_DISPATCH& f) const { store_(target_, f.function); }

 private:
  using Function = void (*)();
  int id_;
  void* target_;
  void (*store_)(void* target, Function);
};

// Sets every wanted function from the default provider's implementation of `algorithm` (one of its
// names) for `operation` (OSSL_OP_*). Aborts when any is missing: a libcrypto without
// ChaCha20-Poly1305 or X25519 cannot run WireGuard at all.
void load_functions(int operation, std::string_view algorithm, std::initializer_list<Wanted> wanted);

}  // namespace wgvm::crypto::provider
