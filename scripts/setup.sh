#!/usr/bin/env bash
# Installs what grlm needs on Debian 12 and builds it (Release) into build/. Idempotent: a second
# run installs nothing and rebuilds only what changed.
#
# Environment:
#   Torch_DIR=/path/to/libtorch/share/cmake/Torch   use that libtorch instead of the PyPI wheel
#   GRLM_TORCH_VERSION=2.15.0                       the pinned PyPI torch wheel (libtorch for C++)
#   GRLM_CMAKE_ARGS="-DGRLM_WITH_CUDA=OFF ..."      extra CMake arguments
#   GRLM_JOBS=2                                     parallel compile jobs
#   GRLM_SKIP_INSTALL=1                             build only, install nothing
set -euo pipefail
cd "$(dirname "$0")/.."

TORCH_VERSION="${GRLM_TORCH_VERSION:-2.15.0}"
JOBS="${GRLM_JOBS:-2}"
APT_PACKAGES=(
  build-essential cmake pkg-config ccache git
  openmpi-bin libopenmpi-dev libhdf5-openmpi-dev hdf5-tools
  nlohmann-json3-dev libboost-program-options-dev libgtest-dev libgmock-dev
  libpcre2-dev libxxhash-dev libutf8proc-dev
  clang libclang-rt-14-dev
)

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

install_debian_packages() {
  local missing=()
  for package in "${APT_PACKAGES[@]}"; do
    dpkg -s "$package" > /dev/null 2>&1 || missing+=("$package")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "setup: installing Debian packages: ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" > /dev/null
  fi
}

install_torch() {
  if [ -n "${Torch_DIR:-}" ]; then
    echo "setup: using libtorch from Torch_DIR=$Torch_DIR"
    return
  fi
  if python3 -c "import torch, sys; sys.exit(0 if torch.__version__.split('+')[0] == '$TORCH_VERSION' else 1)" \
      2> /dev/null; then
    return
  fi
  echo "setup: installing the PyPI torch==$TORCH_VERSION wheel (libtorch for C++; large download)"
  python3 -m pip install --quiet --disable-pip-version-check "torch==$TORCH_VERSION"
}

if [ -z "${GRLM_SKIP_INSTALL:-}" ]; then
  install_debian_packages
  install_torch
fi

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release ${GRLM_CMAKE_ARGS:-} > build-configure.log 2>&1 || {
  cat build-configure.log
  exit 1
}
rm -f build-configure.log
cmake --build build -j"$JOBS"
echo "setup: built $(pwd)/build/grlm"
