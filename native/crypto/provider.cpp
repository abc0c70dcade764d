#include "crypto/provider.h"

#include <openssl/provider.h>

#include <cstdlib>

namespace wgvm::crypto::provider {
namespace {

OSSL_PROVIDER* default_provider() {
  static OSSL_PROVIDER* p = OSSL_PROVIDER_load(nullptr, "default");  // never unloaded
  return p;
}

// OSSL_ALGORITHM names are a colon-separated list of aliases.
bool has_name(const char* names, std::string_view wanted) {
  for (std::string_view rest(names); !rest.empty();) {
    const size_t colon = rest.find(':');
    if (rest.substr(0, colon) == wanted) return true;
    if (colon == std::string_view::npos) break;
    rest.remove_prefix(colon + 1);
  }
  return false;
}

// The dispatch table of the implementation that answers to `algorithm`, or null.
const OSSL_DISPATCH* find_implementation(const OSSL_ALGORITHM* algorithms, std::string_view algorithm) {
  for (const OSSL_ALGORITHM* a = algorithms; a && a->algorithm_names; ++a)
    if (has_name(a->algorithm_names, algorithm)) return a->implementation;
  return nullptr;
}

const OSSL_DISPATCH* find_function(const OSSL_DISPATCH* table, int id) {
  for (const OSSL_DISPATCH* f = table; f && f->function_id; ++f)
    if (f->function_id == id) return f;
  return nullptr;
}

}  // namespace

void* context() { return default_provider() ? OSSL_PROVIDER_get0_provider_ctx(default_provider()) : nullptr; }

void load_functions(int operation, std::string_view algorithm, std::initializer_list<Wanted> wanted) {
  OSSL_PROVIDER* p = default_provider();
  if (!p) std::abort();
  int no_cache = 0;
  const OSSL_ALGORITHM* algorithms = OSSL_PROVIDER_query_operation(p, operation, &no_cache);
  const OSSL_DISPATCH* implementation = find_implementation(algorithms, algorithm);
  bool complete = true;
  for (const Wanted& w : wanted) {
    if (const OSSL_DISPATCH* f = find_function(implementation, w.id()))
      w.store(*f);
    else
      complete = false;
  }
  // The functions stay valid while the provider is loaded; the list itself is handed back.
  if (algorithms) OSSL_PROVIDER_unquery_operation(p, operation, algorithms);
  if (!complete) std::abort();
}

}  // namespace wgvm::crypto::provider
