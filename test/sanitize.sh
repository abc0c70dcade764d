#!/usr/bin/env bash
# `npm run test:sanitize`: the native tests (test/native) and the interop and relay tests in
# namespaces again, with the addon built under AddressSanitizer and UndefinedBehaviorSanitizer
# into build/asan (the normal build in build/Release is not touched).
#
# node itself is not instrumented, so the sanitizer runtime has to be preloaded (g++'s libasan and
# libubsan); WGVM_ADDON makes src/dataplane/native.ts load the sanitized addon. Every process the tests start
# inherits that environment, the wgvm-userspace daemons included. Reports go to files under
# build/asan/reports (a daemon's stderr goes nowhere), and any report fails the run.
#
# LeakSanitizer is off here: node and V8 leave memory allocated at exit by design, which would bury
# any real report. The addon's C++ (device, protocol, crypto) is leak-checked by the sanitized
# native test executable (test/native/cpp.test.ts), which turns leak detection back on for itself.
set -euo pipefail
cd "$(dirname "$0")/.."

out="$PWD/build/asan"
npm run build:ts --silent  # the daemons the tests start run dist/, which must know WGVM_ADDON
npx cmake-js compile --out "$out" --config RelWithDebInfo --CDWGVM_SANITIZE=ON --target wgvm_native >"$out.log" 2>&1 || {
  cat "$out.log"
  echo "test:sanitize: building the sanitized addon failed" >&2
  exit 1
}
addon="$out/RelWithDebInfo/wgvm_native.node"
[ -f "$addon" ] || addon="$out/Release/wgvm_native.node"

libasan=$(g++ -print-file-name=libasan.so)
libubsan=$(g++ -print-file-name=libubsan.so)
for lib in "$libasan" "$libubsan"; do
  [ -f "$lib" ] || { echo "test:sanitize: $lib not found (install g++)" >&2; exit 1; }
done

reports="$out/reports"
rm -rf "$reports"
mkdir -p "$reports"
export WGVM_ADDON="$addon"
export LD_PRELOAD="$libasan $libubsan"
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:log_path=$reports/asan"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$reports/ubsan"

# The daemons load the addon through dist/dataplane/native.js: make sure that is the sanitized one.
node -e '
  import("./dist/dataplane/native.js").then((m) => {
    m.loadNative();
    const maps = require("node:fs").readFileSync("/proc/self/maps", "utf8");
    if (!maps.includes(process.env.WGVM_ADDON) || !maps.includes("libasan.so")) {
      console.error("test:sanitize: dist/dataplane/native.js did not load " + process.env.WGVM_ADDON + " under ASan");
      process.exit(1);
    }
  });'

status=0
npx vitest run test/native test/netns/interop.test.ts test/netns/relay.test.ts "$@" || status=$?

if [ -n "$(ls -A "$reports")" ]; then
  for f in "$reports"/*; do
    echo "=== sanitizer report $f"
    cat "$f"
  done
  echo "test:sanitize: sanitizer reports in $reports" >&2
  status=1
fi
exit $status
