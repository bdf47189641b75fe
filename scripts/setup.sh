#!/usr/bin/env bash
# Installs what grlm needs on Debian 12 and builds it (Release) into build/. Idempotent: a second
# run installs nothing and rebuilds only what changed.
#
# Usage: setup.sh [--no-tests]   --no-tests: only what grlm itself needs (the demo); without it
#                                also the test suite's packages (GoogleTest, clang for the fuzzer)
#                                and the tests are built
#
# libtorch: with nvcc (a CUDA toolkit), the pinned PyPI torch wheel with its CUDA dependencies
# (~5 GB), linked through libtorch's CMake package. Without nvcc only libtorch's CPU libraries
# are linked, so unless that torch is already importable, the wheel is fetched without its
# dependencies into .deps/ (~1 GB), with the two small CUDA runtime libraries libtorch_cpu loads.
#
# Environment:
#   Torch_DIR=/path/to/libtorch/share/cmake/Torch   use that libtorch instead of the PyPI wheel
#   GRLM_TORCH_VERSION=2.15.0                       another PyPI torch wheel than scripts/versions.sh pins
#   GRLM_CMAKE_ARGS="-DGRLM_WITH_CUDA=OFF ..."      extra CMake arguments (GRLM_WITH_CUDA=OFF: as without nvcc)
#   GRLM_JOBS=2                                     parallel compile jobs
#   GRLM_SKIP_INSTALL=1                             build only, install nothing
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/versions.sh
TORCH_VERSION="${GRLM_TORCH_VERSION:-$GRLM_TORCH_VERSION_PIN}"
JOBS="${GRLM_JOBS:-2}"
BUILD_TESTS=ON
if [ "${1:-}" = "--no-tests" ]; then BUILD_TESTS=OFF; fi
APT_PACKAGES=(
  build-essential cmake pkg-config ccache git
  openmpi-bin libopenmpi-dev libhdf5-openmpi-dev hdf5-tools
  nlohmann-json3-dev libboost-program-options-dev
  libpcre2-dev libxxhash-dev libutf8proc-dev libgoogle-perftools-dev
)
if [ "$BUILD_TESTS" = ON ]; then APT_PACKAGES+=(libgtest-dev libgmock-dev clang libclang-rt-14-dev iproute2); fi

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

install_debian_packages() {
  local missing=()
  for package in "${APT_PACKAGES[@]}"; do
    dpkg -s "$package" > /dev/null 2>&1 || missing+=("$package")
  done
  # pip fetches libtorch (the PyPI torch wheel); Debian's own python3 comes without it.
  python3 -m pip --version > /dev/null 2>&1 || missing+=(python3-pip)
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "setup: installing Debian packages: ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" > /dev/null
  fi
}

cuda_compiler_found() {
  [[ " ${GRLM_CMAKE_ARGS:-} " == *"-DGRLM_WITH_CUDA=OFF"* ]] && return 1
  command -v nvcc > /dev/null 2>&1 || [ -n "${CUDACXX:-}" ] || [ -x /usr/local/cuda/bin/nvcc ]
}

python_has_pinned_torch() {
  python3 -c "import torch, sys; sys.exit(0 if torch.__version__.split('+')[0] == '$TORCH_VERSION' else 1)" 2> /dev/null
}

# Sets TORCH_ARGS, the CMake arguments that select the libtorch to link.
TORCH_ARGS=""
install_torch() {
  if [ -n "${Torch_DIR:-}" ]; then
    echo "setup: using libtorch from Torch_DIR=$Torch_DIR"
    return
  fi
  if cuda_compiler_found; then
    if ! python_has_pinned_torch; then
      echo "setup: installing the PyPI torch==$TORCH_VERSION wheel with its CUDA libraries (nvcc found; large download)"
      python3 -m pip install --quiet --disable-pip-version-check "torch==$TORCH_VERSION"
    fi
    return
  fi
  if python_has_pinned_torch; then
    TORCH_ARGS="-DGRLM_TORCH_ROOT=$(python3 -c 'import os, torch; print(os.path.dirname(torch.__file__))')"
    return
  fi
  local target=".deps/torch-$TORCH_VERSION"
  if [ ! -f "$target/.complete" ]; then
    echo "setup: no nvcc: fetching the torch==$TORCH_VERSION wheel without its CUDA dependencies into $target"
    rm -rf "$target" "$target.partial"
    python3 -m pip install --quiet --disable-pip-version-check --no-deps --target "$target.partial" \
      "torch==$TORCH_VERSION" "${GRLM_TORCH_CPU_RUNTIME[@]}"
    mv "$target.partial" "$target"
    touch "$target/.complete"
  fi
  TORCH_ARGS="-DGRLM_TORCH_ROOT=$(pwd)/$target/torch"
}

if [ -z "${GRLM_SKIP_INSTALL:-}" ]; then
  install_debian_packages
  install_torch
fi

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DGRLM_BUILD_TESTS="$BUILD_TESTS" ${TORCH_ARGS} ${GRLM_CMAKE_ARGS:-} \
  > build-configure.log 2>&1 || {
  cat build-configure.log
  exit 1
}
rm -f build-configure.log
cmake --build build -j"$JOBS"
echo "setup: built $(pwd)/build/grlm"
