#!/usr/bin/env bash
# GPU checks for a machine with an NVIDIA GPU, nvcc and PyTorch but no MPI or HDF5 (the device
# machine of the sessions that have one). Builds the communicator's NCCL backend and device
# selection against the NCCL that PyTorch's wheel ships, and runs tests/gpu/gpu_checks.cpp.
# Writes its log to $OUT (when set) or build-gpu/.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT_DIR="${OUT:-build-gpu}"
mkdir -p build-gpu "$OUT_DIR"
NCCL_DIR="$(python3 -c 'import nvidia.nccl as n; print(list(n.__path__)[0])' 2> /dev/null || true)"
CUDA_HOME="${CUDA_HOME:-$(dirname "$(dirname "$(command -v nvcc)")")}"
if [ -n "$NCCL_DIR" ] && [ -f "$NCCL_DIR/include/nccl.h" ]; then
  NCCL_FLAGS=(-I"$NCCL_DIR/include" -L"$NCCL_DIR/lib" -Wl,-rpath,"$NCCL_DIR/lib" -l:libnccl.so.2)
else
  NCCL_FLAGS=(-lnccl)
fi
{
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
  nvcc --version | tail -1
  echo "NCCL from: ${NCCL_DIR:-system}"
  g++ -std=c++20 -O2 -DGRLM_HAVE_CUDA=1 -Iinclude -I"$CUDA_HOME/include" \
    tests/gpu/gpu_checks.cpp src/core/comm.cpp src/core/comm_nccl.cpp src/core/device.cpp src/core/log.cpp \
    src/core/error.cpp -o build-gpu/gpu_checks -L"$CUDA_HOME/lib64" -lcudart "${NCCL_FLAGS[@]}" -lpthread
  build-gpu/gpu_checks
} 2>&1 | tee "$OUT_DIR/gpu_checks.log"
exit "${PIPESTATUS[0]}"
