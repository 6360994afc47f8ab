#!/usr/bin/env bash
# The test command: installs what is missing, builds, and runs every test twice:
# in the normal build (build/) and in an address+undefined sanitizer build
# (build-asan/). Exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh

jobs=${JOBS:-2}

if [ ! -f build/build.ninja ]; then
	meson setup build
fi
meson compile -C build -j "$jobs"
meson test -C build --num-processes "$jobs" --print-errorlogs

if [ ! -f build-asan/build.ninja ]; then
	meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug
fi
meson compile -C build-asan -j "$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	meson test -C build-asan --num-processes "$jobs" --print-errorlogs --timeout-multiplier 3
echo "infd: all tests passed (normal and sanitizer builds)"
