#!/usr/bin/env bash
# Installs what a fresh Debian 12 machine lacks to build and test ringtgt,
# then configures and builds it in ./build (idempotent; run as root).
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=(gcc pkg-config meson ninja-build
      liburing-dev libaio-dev libconfuse-dev uuid-dev libjson-c-dev libisal-dev libsystemd-dev
      libssl-dev libcriterion-dev libiscsi-dev libiscsi-bin
      qemu-utils qemu-block-extra python3
      iproute2 util-linux diffutils     # ss; taskset, flock; cmp (tests)
      e2fsprogs mount)                  # mkfs.ext4, loop mount, fsfreeze (it-tmf)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "bootstrap: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
if [ ! -f build/build.ninja ]; then
	meson setup build ${RINGTGT_MESON_ARGS:-}
fi
ninja -C build
