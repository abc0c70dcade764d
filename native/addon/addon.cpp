// The Node-API module: gathers the bindings and nothing else.
#include <napi.h>

#include "addon/crypto_binding.h"
#include "addon/device_binding.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("crypto", wgvm::addon::crypto_exports(env));
  exports.Set("Device", wgvm::addon::device_class(env));
  return exports;
}

}  // namespace

NODE_API_MODULE(wgvm_native, Init)
