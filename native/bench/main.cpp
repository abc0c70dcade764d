// wgvm_bench: the native micro-benchmarks of the benchmark harness.
//   wgvm_bench [--seconds S] [crypto|handshakes|all]
// Prints one JSON object on stdout; progress and errors go to stderr.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>

#include "bench/bench.h"

namespace {

void usage(const char* argv0) {
  std::fprintf(stderr,
               "usage: %s [--seconds S] [crypto|handshakes|all]\n"
               "  --seconds S  time per measurement, fractional allowed (default 3)\n"
               "  crypto       ChaCha20-Poly1305 seal/open of 1,420-byte packets, one core\n"
               "  handshakes   handshakes per second completed by one responder (256 peers)\n"
               "  all          both (default)\n",
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

}  // namespace

int main(int argc, char** argv) {
  double seconds = 3;
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
    } else if (std::strcmp(a, "crypto") == 0 || std::strcmp(a, "handshakes") == 0 || std::strcmp(a, "all") == 0) {
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
    std::string json = "{";
    if (mode == "crypto" || mode == "all") json += "\"crypto\": " + wgvm::bench::run_crypto(seconds);
    if (mode == "all") json += ", ";
    if (mode == "handshakes" || mode == "all") json += "\"handshakes\": " + wgvm::bench::run_handshakes(seconds);
    json += "}\n";
    std::fputs(json.c_str(), stdout);
    return std::fflush(stdout) == 0 ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "wgvm_bench: %s\n", e.what());
    return 1;
  }
}
