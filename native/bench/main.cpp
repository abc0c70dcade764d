// wgvm_bench: the native micro-benchmarks of the benchmark harness.
//   wgvm_bench [--seconds S] [--threads N] [crypto|handshakes|pool|all]
// Prints one JSON object on stdout; progress and errors go to stderr.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>

#include "bench/bench.h"
#include "device/crypto_pool.h"

namespace {

void usage(const char* argv0) {
  std::fprintf(stderr,
               "usage: %s [--seconds S] [--threads N] [crypto|handshakes|pool|all]\n"
               "  --seconds S  time per measurement, fractional allowed (default 3)\n"
               "  --threads N  threads of the pool benchmark, 1-256 (default: one per core)\n"
               "  crypto       ChaCha20-Poly1305 seal/open of 1,420-byte packets, one core\n"
               "  handshakes   handshakes per second completed by one responder (256 peers)\n"
               "  pool         the device's batches of seals and opens on its pool of threads\n"
               "  all          all three (default)\n",
               argv0);
}

bool parse_seconds(const char* text, double& out) {
  if (!text || !*text) return false;
  char* end = nullptr;
  const double v = std::strtod(text, &end);
  if (*end != '\0' || !std::isfinite(v) || v <= 0 || v > 86400) return false;
  out = v;
  return true;
}

bool parse_threads(const char* text, size_t& out) {
  if (!text || !*text) return false;
  char* end = nullptr;
  const unsigned long v = std::strtoul(text, &end, 10);
  if (*end != '\0' || text[0] == '-' || v < 1 || v > 256) return false;
  out = v;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 3;
  size_t threads = wgvm::device::CryptoPool::available_cores();
  std::string mode;
  for (int i = 1; i < argc; ++i) {
    const char* a = argv[i];
    if (std::strcmp(a, "-h") == 0 || std::strcmp(a, "--help") == 0) {
      usage(argv[0]);
      return 0;
    }
    if (std::strcmp(a, "--seconds") == 0) {
      if (i + 1 >= argc || !parse_seconds(argv[i + 1], seconds)) {
        std::fprintf(stderr, "%s: --seconds needs a positive number\n", argv[0]);
        usage(argv[0]);
        return 2;
      }
      ++i;
    } else if (std::strncmp(a, "--seconds=", 10) == 0) {
      if (!parse_seconds(a + 10, seconds)) {
        std::fprintf(stderr, "%s: --seconds needs a positive number\n", argv[0]);
        usage(argv[0]);
        return 2;
      }
    } else if (std::strcmp(a, "--threads") == 0) {
      if (i + 1 >= argc || !parse_threads(argv[i + 1], threads)) {
        std::fprintf(stderr, "%s: --threads needs an integer from 1 to 256\n", argv[0]);
        usage(argv[0]);
        return 2;
      }
      ++i;
    } else if (std::strcmp(a, "crypto") == 0 || std::strcmp(a, "handshakes") == 0 || std::strcmp(a, "pool") == 0 ||
               std::strcmp(a, "all") == 0) {
      if (!mode.empty()) {
        std::fprintf(stderr, "%s: more than one benchmark given ('%s', then '%s')\n", argv[0], mode.c_str(), a);
        usage(argv[0]);
        return 2;
      }
      mode = a;
    } else {
      std::fprintf(stderr, "%s: unexpected argument '%s'\n", argv[0], a);
      usage(argv[0]);
      return 2;
    }
  }
  if (mode.empty()) mode = "all";

  try {
    std::string json;
    auto add = [&](const char* name, const std::string& result) {
      json += (json.empty() ? "{\"" : ", \"") + std::string(name) + "\": " + result;
    };
    if (mode == "crypto" || mode == "all") add("crypto", wgvm::bench::run_crypto(seconds));
    if (mode == "handshakes" || mode == "all") add("handshakes", wgvm::bench::run_handshakes(seconds));
    if (mode == "pool" || mode == "all") add("pool", wgvm::bench::run_pool(seconds, threads));
    json += "}\n";
    std::fputs(json.c_str(), stdout);
    return std::fflush(stdout) == 0 ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "wgvm_bench: %s\n", e.what());
    return 1;
  }
}
