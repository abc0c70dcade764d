// A minimal test harness for the native test executable (wgvm_tests): tests register themselves,
// checks record failures with file and line, and main() runs all or a named subset.
#pragma once

#include <cstdint>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

namespace wgvm::test {

struct TestCase {
  const char* name;
  void (*fn)();
};

std::vector<TestCase>& registry();

struct Registrar {
  Registrar(const char* name, void (*fn)()) { registry().push_back({name, fn}); }
};

// Records a failed check; the current test goes on so that one run shows every failure.
void fail(const char* file, int line, const std::string& what);

std::string hex(const uint8_t* p, size_t n);

template <typename T>
std::string show(const T& v) {
  std::ostringstream s;
  if constexpr (std::is_same_v<T, uint8_t> || std::is_same_v<T, int8_t>) {
    s << static_cast<int>(v);
  } else if constexpr (requires { s << v; }) {
    s << v;
  } else if constexpr (requires { v.data(); v.size(); }) {
    s << hex(reinterpret_cast<const uint8_t*>(v.data()), v.size() * sizeof(*v.data()));
  } else {
    s << "<value>";
  }
  return s.str();
}

}  // namespace wgvm::test

#define WGVM_CONCAT2(a, b) a##b
#define WGVM_CONCAT(a, b) WGVM_CONCAT2(a, b)

#define TEST(name)                                                          \
  static void name();                                                       \
  static ::wgvm::test::Registrar WGVM_CONCAT(name, _registrar)(#name, name); \
  static void name()

#define CHECK(cond)                                                    \
  do {                                                                 \
    if (!(cond)) ::wgvm::test::fail(__FILE__, __LINE__, "CHECK(" #cond ")"); \
  } while (0)

#define CHECK_EQ(a, b)                                                                                     \
  do {                                                                                                     \
    const auto& wgvm_a_ = (a);                                                                             \
    const auto& wgvm_b_ = (b);                                                                             \
    if (!(wgvm_a_ == wgvm_b_))                                                                             \
      ::wgvm::test::fail(__FILE__, __LINE__,                                                               \
                         "CHECK_EQ(" #a ", " #b "): " + ::wgvm::test::show(wgvm_a_) + " != " +              \
                             ::wgvm::test::show(wgvm_b_));                                                 \
  } while (0)

// Stops the current test when a precondition for the rest of it does not hold.
#define REQUIRE(cond)                                                      \
  do {                                                                     \
    if (!(cond)) {                                                         \
      ::wgvm::test::fail(__FILE__, __LINE__, "REQUIRE(" #cond ")");        \
      return;                                                              \
    }                                                                      \
  } while (0)
