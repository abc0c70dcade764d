// wgvm_tests: runs the native tests. `wgvm_tests` runs all; `wgvm_tests NAME…` runs those named;
// `wgvm_tests --list` prints the names. The last line is "N passed, N failed".
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>

#include "harness.h"

namespace wgvm::test {

std::vector<TestCase>& registry() {
  static std::vector<TestCase> tests;
  return tests;
}

namespace {
int failures_in_current = 0;
}

void fail(const char* file, int line, const std::string& what) {
  ++failures_in_current;
  std::fprintf(stderr, "  %s:%d: %s\n", file, line, what.c_str());
}

std::string hex(const uint8_t* p, size_t n) {
  static const char digits[] = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < n; ++i) {
    s += digits[p[i] >> 4];
    s += digits[p[i] & 15];
  }
  return s;
}

}  // namespace wgvm::test

int main(int argc, char** argv) {
  using namespace wgvm::test;
  if (argc == 2 && std::strcmp(argv[1], "--list") == 0) {
    for (const TestCase& t : registry()) std::printf("%s\n", t.name);
    return 0;
  }
  int passed = 0, failed = 0;
  for (const TestCase& t : registry()) {
    bool selected = argc == 1;
    for (int i = 1; i < argc; ++i) selected |= std::strcmp(argv[i], t.name) == 0;
    if (!selected) continue;
    failures_in_current = 0;
    try {
      t.fn();
    } catch (const std::exception& e) {
      fail(__FILE__, __LINE__, std::string("uncaught exception: ") + e.what());
    }
    if (failures_in_current == 0) {
      ++passed;
      std::printf("ok   %s\n", t.name);
    } else {
      ++failed;
      std::printf("FAIL %s\n", t.name);
    }
    std::fflush(stdout);
  }
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 && passed > 0 ? 0 : 1;
}
