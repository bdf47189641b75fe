#!/usr/bin/env bash
# Prepares gpu-runtime/ (ignored by git; carried to the device machine) for scripts/gpu_session.sh.
# The device machine has a GPU, nvcc and PyTorch (libtorch + CUDA 13 libraries) but no Open MPI,
# HDF5 or network, so grlm runs there as a relocated bundle:
#   bin/   grlm and the GPU checks, built here against the device's libtorch version
#          (GPU_TORCH_VERSION, default 2.11.0: its PyPI wheel, unpacked, supplies the headers and
#          libraries to link against; at run time the device's own libtorch is used)
#   lib/   every shared library they need that is neither glibc, the C++ runtime, libtorch nor CUDA
#          (Open MPI, parallel HDF5, Boost.Program_options, PCRE2, ...), and the libraries of
#          Open MPI's components
#   ompi/  Open MPI's components and help files at their installed paths under OPAL_PREFIX=ompi/usr
#   data/  the Beauty files of bench/bench_quality_beauty.sh
# Usage: scripts/gpu_bundle.sh [BUILD_DIR (default build-gpu-torch)]
# GPU_TORCH_ROOT: where the wheel is unpacked (default ~/.cache/grlm/torch-VERSION). Then, with
# the device tool: run `bash scripts/gpu_session.sh` there, carrying gpu-runtime.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="${1:-build-gpu-torch}"
TORCH_VERSION="${GPU_TORCH_VERSION:-2.11.0}"
TORCH_ROOT="${GPU_TORCH_ROOT:-$HOME/.cache/grlm/torch-$TORCH_VERSION}"
BUNDLE=gpu-runtime
OMPI_PKGLIB=/usr/lib/x86_64-linux-gnu/openmpi/lib/openmpi3

if [ ! -f "$TORCH_ROOT/torch/share/cmake/Torch/TorchConfig.cmake" ]; then
  mkdir -p "$TORCH_ROOT/wheel"
  python3 -m pip download --quiet --no-deps --only-binary=:all: "torch==$TORCH_VERSION" -d "$TORCH_ROOT/wheel"
  (cd "$TORCH_ROOT" && unzip -q -o wheel/torch-*.whl 'torch/*')
fi
# libtorch_cuda's CUDA libraries (nvidia-* wheels, found through its RPATH ../../nvidia): the
# ones of the torch installed here, for linking and for running the bundle's binaries here.
NVIDIA_DIR="$(python3 -c 'import nvidia; print(list(nvidia.__path__)[0])' 2> /dev/null || true)"
if [ -z "$NVIDIA_DIR" ]; then
  echo "gpu_bundle: no nvidia-* wheels here (install torch with CUDA: scripts/setup.sh)" >&2
  exit 1
fi
[ -e "$TORCH_ROOT/nvidia" ] || ln -s "$NVIDIA_DIR" "$TORCH_ROOT/nvidia"

mkdir -p "$BUILD"
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DTorch_DIR="$TORCH_ROOT/torch/share/cmake/Torch" \
  -DGRLM_BUILD_TESTS=ON -DGRLM_BUILD_BENCH=ON > "$BUILD/grlm-configure.log"
grep -q "CUDA/NCCL backend ON" "$BUILD/grlm-configure.log" || { echo "gpu_bundle: no CUDA backend (nvcc, NCCL?)" >&2; exit 1; }
cmake --build "$BUILD" -j"${GRLM_JOBS:-2}" --target grlm gpu_checks similar_gpu bench_model bench_train_gpu

rm -rf "$BUNDLE" && mkdir -p "$BUNDLE/bin" "$BUNDLE/lib" "$BUNDLE/ompi/usr/share" "$BUNDLE/data"
for binary in grlm tests/gpu_checks tests/similar_gpu tests/bench_model bench/bench_train_gpu; do
  strip -o "$BUNDLE/bin/$(basename "$binary")" "$BUILD/$binary"
done
mkdir -p "$BUNDLE/ompi$(dirname "$OMPI_PKGLIB")"
cp -r "$OMPI_PKGLIB" "$BUNDLE/ompi$OMPI_PKGLIB"
cp -r /usr/share/openmpi "$BUNDLE/ompi/usr/share/"

# Libraries the device machine has: glibc, the C++ runtime, libtorch (with its OpenMP) and CUDA.
provided='^(libc|libm|libdl|librt|libpthread|libresolv|libutil|libanl|libnsl|ld-linux-x86-64|libstdc\+\+|libgcc_s|libtorch.*|libc10.*|libgomp.*|libcuda|libcudart|libcublas.*|libcudnn.*|libnccl|libnv.*|libcufft|libcurand|libcusparse.*|libcusolver|libcupti|libcufile.*)\.so'
needed_libraries() {
  LD_LIBRARY_PATH="$TORCH_ROOT/torch/lib" ldd "$@" 2> /dev/null | awk '$2 == "=>" && $3 ~ /^\// {print $3}' | sort -u
}
for library in $(needed_libraries "$BUNDLE"/bin/* "$BUNDLE/ompi$OMPI_PKGLIB"/*.so); do
  name="$(basename "$library")"
  [[ "$name" =~ $provided ]] && continue
  cp -L "$library" "$BUNDLE/lib/$name"
done
B=../shared/data/beauty
cp "$B/sequential_data.txt" "$B/beauty_item_id2tid.json" "$B/similar_item_sasrec_num.txt" "$BUNDLE/data/"
du -sh "$BUNDLE" "$BUNDLE"/*
