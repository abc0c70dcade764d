#include "crypto/provider.h"

#include <openssl/provider.h>

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

}  // namespace

void* context() { return default_provider() ? OSSL_PROVIDER_get0_provider_ctx(default_provider()) : nullptr; }

bool load_functions(int operation, std::string_view algorithm, const std::function<void(const OSSL_DISPATCH&)>& take) {
  OSSL_PROVIDER* p = default_provider();
  if (!p) return false;
  int no_cache = 0;
  const OSSL_ALGORITHM* algorithms = OSSL_PROVIDER_query_operation(p, operation, &no_cache);
  bool found = false;
  for (const OSSL_ALGORITHM* a = algorithms; a && a->algorithm_names && !found; ++a) {
    if (!has_name(a->algorithm_names, algorithm)) continue;
    for (const OSSL_DISPATCH* f = a->implementation; f->function_id; ++f) take(*f);
    found = true;
  }
  // The functions stay valid while the provider is loaded; the list itself is handed back.
  if (algorithms) OSSL_PROVIDER_unquery_operation(p, operation, algorithms);
  return found;
}

}  // namespace wgvm::crypto::provider
