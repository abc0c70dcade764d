#pragma once

#include <napi.h>

namespace wgvm::addon {

// The crypto primitives, exposed so that tests can check them against published vectors.
Napi::Object crypto_exports(Napi::Env env);

}  // namespace wgvm::addon
