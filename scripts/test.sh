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
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp:print_suppressions=0"
if ! meson test -C build-asan --num-processes "$jobs" --print-errorlogs --timeout-multiplier 3; then
	# A Criterion test can hang under the sanitizers when Criterion forks a worker
	# while its own nanomsg thread holds the sanitizer's allocator lock (GCC 12's
	# libasan has no fork handling). Such a hang ends as a TIMEOUT, never as a failed
	# assertion: run exactly the timed-out tests once more; anything else fails.
	retry=$(python3 -c '
import json, sys
bad = [json.loads(l) for l in open("build-asan/meson-logs/testlog.json")]
if any(t["result"] not in ("OK", "SKIP", "TIMEOUT", "EXPECTEDFAIL") for t in bad):
    sys.exit(1)
print(" ".join(t["name"].split(" / ")[-1] for t in bad if t["result"] == "TIMEOUT"))')
	[ -n "$retry" ] || exit 1
	echo "infd: re-running tests that timed out under the sanitizers: $retry"
	# shellcheck disable=SC2086
	meson test -C build-asan --num-processes "$jobs" --print-errorlogs --timeout-multiplier 3 $retry
fi
echo "infd: all tests passed (normal and sanitizer builds)"
