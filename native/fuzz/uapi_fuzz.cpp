// libFuzzer target: the UAPI `set` parser and applier (device/uapi.h) on a configured device.
// Checked beyond "no crash": a rejected set leaves the device exactly as it was (all-or-nothing),
// an error message never repeats a secret the request carried, and what `get` shows after an
// accepted set, sent as a set to a fresh device, configures it the same (as `wg showconf | wg
// setconf` does).
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>

#include "uapi_host.h"

using namespace wgvm;
using namespace wgvm::fuzz;

namespace {

[[noreturn]] void fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "fuzz check failed: %s\n%s\n", what, detail.c_str());
  std::abort();
}

bool is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

// At least 8 different digits among 16: what a random key has, and what words and runs of one
// letter that match message text by chance do not.
bool looks_random(std::string_view run) {
  bool seen[128] = {};
  int distinct = 0;
  for (const char c : run) distinct += !std::exchange(seen[static_cast<unsigned char>(c) & 127], true);
  return distinct >= 8;
}

// No 16 hex digits in a row of a private_key= or preshared_key= value may appear in the message.
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
        if (hex_run < kRun) continue;
        const std::string_view window = value.substr(i + 1 - kRun, kRun);
        if (looks_random(window) && message.find(window) != std::string::npos)
          fail("an error message repeats a secret:", message);
      }
    }
    start = end + 1;
  }
}

// The configuration lines of a get (without the counters and handshake times, which a set does
// not take).
std::string config_of(const std::string& get) {
  std::string out;
  size_t start = 0;
  while (start < get.size()) {
    const size_t end = get.find('\n', start);
    const std::string_view line(get.data() + start, end - start);
    if (!line.starts_with("last_handshake_time_") && !line.starts_with("tx_bytes=") && !line.starts_with("rx_bytes=")) {
      out += line;
      out += '\n';
    }
    start = end + 1;
  }
  return out;
}

void check_get_round_trips(FuzzHost& host) {
  const std::string config = config_of(device::uapi_get(host));
  FuzzHost fresh;
  const device::UapiResult r = device::uapi_set(fresh, config);
  if (r.errno_value != 0) fail("a set of what get showed is rejected:", r.message + "\n--- set\n" + config);
  const std::string again = config_of(device::uapi_get(fresh));
  if (again != config) fail("a set of what get showed configures differently:", "--- get\n" + config + "--- after set\n" + again);
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
  } else {
    check_get_round_trips(host);
  }
  return 0;
}
