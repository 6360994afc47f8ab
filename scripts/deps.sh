#!/usr/bin/env bash
# Installs the Debian 12 packages infd needs to build and test, when any is
# missing. Runs apt-get as root (directly, or through sudo when available).
set -euo pipefail

packages=(
	build-essential pkg-config meson ninja-build clang
	libjansson-dev libcriterion-dev libpthreadpool-dev libuv1-dev libnng-dev util-linux
	libxnnpack-dev libvulkan-dev libvulkan-volk-dev glslc mesa-vulkan-drivers
)

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "infd: installing ${missing[*]}" >&2
as_root=()
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null || { echo "infd: run as root or install: ${missing[*]}" >&2; exit 1; }
	as_root=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
