// libFuzzer target: the UAPI `set` parser and applier (device/uapi.h) on a configured device.
// Checked beyond "no crash": a rejected set leaves the device exactly as it was (all-or-nothing),
// and an error message never repeats a secret the request carried.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "uapi_host.h"

using namespace wgvm;
using namespace wgvm::fuzz;

namespace {

[[noreturn]] void fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "%s\n%s\n", what, detail.c_str());
  std::abort();
}

bool is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

// No 16 hex digits in a row of a private_key= or preshared_key= value may appear in the message
// (shorter or non-hex runs match ordinary message words by chance).
void check_no_secret_echoed(std::string_view body, const std::string& message) {
  constexpr size_t kRun = 16;
  size_t start = 0;
  while (start < body.size()) {
    size_t end = body.find('\n', start);
    if (end == std::string_view::npos) end = body.size();
    const std::string_view line = body.substr(start, end - start);
    for (std::string_view key : {"private_key=", "preshared_key="}) {
      if (!line.starts_with(key)) continue;
      const std::string_view value = line.substr(key.size());
      size_t hex_run = 0;
      for (size_t i = 0; i < value.size(); ++i) {
        hex_run = is_hex(value[i]) ? hex_run + 1 : 0;
        if (hex_run >= kRun && message.find(value.substr(i + 1 - kRun, kRun)) != std::string::npos)
          fail("an error message repeats a secret:", message);
      }
    }
    start = end + 1;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzHost host;
  if (device::uapi_set(host, kBaselineConfig).errno_value != 0) fail("the baseline config is rejected", "");
  const std::string before = host.state();

  const std::string_view body(reinterpret_cast<const char*>(data), size);
  const device::UapiResult result = device::uapi_set(host, body);
  if (result.errno_value != 0) {
    if (result.message.empty()) fail("a rejected set has no message", "");
    check_no_secret_echoed(body, result.message);
    const std::string after = host.state();
    if (after != before) fail("a rejected set changed the device:", result.message + "\n--- before\n" + before + "--- after\n" + after);
  } else if (!result.message.empty()) {
    fail("an accepted set has an error message:", result.message);
  }
  return 0;
}
