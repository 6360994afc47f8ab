#!/usr/bin/env bash
# The main job: installs what is missing, builds, and shows the sample program
# (written at build time by infd's own .pte writer) being inspected, run and
# verified in-process with infd-pte.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh

if [ ! -f build/build.ninja ]; then
	meson setup build >/dev/null
fi
meson compile -C build -j "${JOBS:-2}" >/dev/null

tool=build/tools/infd-pte
sample=build/tools/sample.pte

echo "== infd-pte inspect $sample"
"$tool" inspect "$sample"
echo
echo "== infd-pte run $sample -m forward -i values:1,2,3,4,5,6,7,8"
"$tool" run "$sample" -m forward -i values:1,2,3,4,5,6,7,8
echo
echo "== infd-pte run $sample -m blend -i values:1,2,3,4 -i values:10,20,30,40"
"$tool" run "$sample" -m blend -i values:1,2,3,4 -i values:10,20,30,40
echo
echo "== infd-pte verify build/tools/sample.bpte"
"$tool" verify build/tools/sample.bpte
