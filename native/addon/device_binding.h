#pragma once

#include <napi.h>

namespace wgvm::addon {

// The `Device` class: a running userspace WireGuard interface, configured with UAPI text.
Napi::Function device_class(Napi::Env env);

}  // namespace wgvm::addon
