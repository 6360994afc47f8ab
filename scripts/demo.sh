#!/usr/bin/env bash
# The main job: installs what is missing, builds, starts the infd daemon on its
# built-in default config (which serves the bundled sample program as model
# "sample"), and shows clients using it through infctl and libinfd: status,
# models, runs over the shared-memory doorbell and over nng, several concurrent
# client processes sharing the one model instance, a bundled program verified
# through the daemon, and the statistics. The daemon is stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh

if [ ! -f build/build.ninja ]; then
	meson setup build >/dev/null
fi
meson compile -C build -j "${JOBS:-2}" >/dev/null

dir=$(mktemp -d /tmp/infd-demo-XXXXXX)
sock="$dir/infd.sock"
infctl="build/client/infctl --socket $sock"
build/daemon/infd --socket "$sock" 2>"$dir/infd.log" &
daemon=$!
trap 'kill -TERM $daemon 2>/dev/null; wait $daemon 2>/dev/null; cat "$dir/infd.log"; rm -rf "$dir"' EXIT
for _ in $(seq 100); do
	grep -q "listening on" "$dir/infd.log" 2>/dev/null && break
	sleep 0.1
done

step() { printf '\n== %s\n' "$*"; }

step "infctl status"
$infctl status
step "infctl models sample"
$infctl models sample
step "infctl run sample -i values:1,2,3,4,5,6,7,8     (y = x*[0.5,1,2,-1] + [1,0,-1,0.25], via the doorbell)"
$infctl run sample -i values:1,2,3,4,5,6,7,8
step "infctl run sample -m blend -i values:1,2,3,4 -i values:10,20,30,40 --nng     (a + 0.5*b, via nng)"
$infctl run sample -m blend -i values:1,2,3,4 -i values:10,20,30,40 --nng
step "three client processes at once, 2000 runs each, sharing one model instance"
for k in 1 2 3; do
	$infctl run sample -i rand:$k -n 2000 >"$dir/client$k.txt" &
done
wait %2 %3 %4
for k in 1 2 3; do sed -n '$p' "$dir/client$k.txt"; done
step "infctl verify sample build/tools/sample.bpte     (a bundled program's test cases through the daemon)"
$infctl verify sample build/tools/sample.bpte
step "infctl stats"
$infctl stats
step "stopping the daemon (SIGTERM: accepted requests finish first)"
