// Argument checking shared by the addon's bindings: every bad argument becomes a JS TypeError or
// RangeError naming the argument, never a crash.
#pragma once

#include <napi.h>

#include <string>

#include "crypto/bytes.h"

namespace wgvm::addon {

inline Bytes bytes_arg(const Napi::CallbackInfo& info, size_t index, const char* name) {
  Napi::Value v = info[index];
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
    throw Napi::TypeError::New(info.Env(), std::string(name) + " must be a Uint8Array or Buffer");
  auto a = v.As<Napi::Uint8Array>();
  return Bytes(a.Data(), a.ByteLength());
}

inline Bytes bytes_arg(const Napi::CallbackInfo& info, size_t index, const char* name, size_t exact_len) {
  Bytes b = bytes_arg(info, index, name);
  if (b.size() != exact_len)
    throw Napi::RangeError::New(info.Env(),
                                std::string(name) + " must be " + std::to_string(exact_len) + " bytes, got " +
                                    std::to_string(b.size()));
  return b;
}

// An optional byte argument: undefined or null reads as empty.
inline Bytes optional_bytes_arg(const Napi::CallbackInfo& info, size_t index, const char* name) {
  if (info[index].IsUndefined() || info[index].IsNull()) return {};
  return bytes_arg(info, index, name);
}

}  // namespace wgvm::addon
