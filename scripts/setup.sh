#!/usr/bin/env bash
# Installs rewardpath's dependencies (Debian 12 packages only) and builds it into ./build.
# Idempotent: packages already present are not reinstalled; the build is incremental.
#   scripts/setup.sh            # Release build in ./build
#   BUILD_DIR=... CMAKE_ARGS="-DRP_SANITIZE=ON" scripts/setup.sh
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential cmake git ccache pkg-config clang-format
  libinsighttoolkit5-dev libgdcm-tools libnifti2-dev libeigen3-dev libtbb-dev libgtest-dev libpng-dev
  nlohmann-json3-dev libcli11-dev libspdlog-dev libfmt-dev libdeflate-dev zlib1g-dev
  mricron-data elastix gzip
  python3 python3-nibabel python3-numpy python3-nipy   # independent cross-checks in the tests
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${#missing[@]} Debian package(s): ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get -o DPkg::Lock::Timeout=300 update -qq
  $SUDO apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup: all Debian packages present"
fi

BUILD_DIR=${BUILD_DIR:-build}
JOBS=${JOBS:-$(nproc)}
# shellcheck disable=SC2086
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=${BUILD_TYPE:-Release} ${CMAKE_ARGS:-} >/dev/null
cmake --build "$BUILD_DIR" -j "$JOBS"
echo "setup: built into $BUILD_DIR (rewardpath binary: $BUILD_DIR/bin/rewardpath)"
