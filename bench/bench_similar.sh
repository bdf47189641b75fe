#!/usr/bin/env bash
# Exact top-k search: grlm similar (ring over MPI ranks, libtorch matmul + per-row heaps) vs FAISS
# IndexFlatIP on the same random unit vectors, same threads, same run. Timed: the search only
# (grlm logs its ring time; FAISS's search call), not reading or writing files.
# Open MPI binds a rank to one core by default: the 2-thread run of one rank passes --bind-to none.
# Usage: bench/bench_similar.sh ROWS DIM [K]       e.g. bench/bench_similar.sh 100000 1024
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS="${1:-20000}" DIM="${2:-1024}" K="${3:-20}"
# FAISS as Debian builds it, over OpenBLAS (the reference BLAS would make the anchor unfairly slow).
dpkg -s libfaiss-dev libopenblas-openmp-dev > /dev/null 2>&1 || apt-get install -y libfaiss-dev libopenblas-openmp-dev > /dev/null
cmake -S . -B build -DGRLM_BUILD_BENCH=ON > /dev/null
cmake --build build -j2 --target grlm bench_similar > /dev/null
DIR=runs/bench-similar && mkdir -p "$DIR"
python3 - "$ROWS" "$DIM" "$DIR" <<'PY'
import sys, numpy as np, h5py
rows, dim, folder = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
x = np.random.default_rng(0).standard_normal((rows, dim), dtype=np.float32)
x /= np.linalg.norm(x, axis=1, keepdims=True)
x.tofile(f"{folder}/vectors.f32")
with h5py.File(f"{folder}/vectors.h5", "w") as f:
    f["x"] = x
PY
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
ring_seconds() { grep -o "took [0-9.e+-]* s" | awk '{print $2}'; }
faiss1=$(build/bench/bench_similar "$DIR/vectors.f32" "$ROWS" "$DIM" "$K" 1)
ours1=$(OMP_NUM_THREADS=1 mpirun -np 1 build/grlm similar --vectors "$DIR/vectors.h5:/x" --k "$K" --output "$DIR/out1.h5" 2>&1 | ring_seconds)
ours2=$(OMP_NUM_THREADS=1 mpirun -np 2 --oversubscribe build/grlm similar --vectors "$DIR/vectors.h5:/x" --k "$K" --output "$DIR/out2.h5" 2>&1 | ring_seconds)
faiss2='{"faiss_seconds": 0}' ours1t2=0
if [ -z "${ONE_THREAD_ONLY:-}" ]; then  # ONE_THREAD_ONLY=1 skips the 2-thread pair (long at 100k rows)
  faiss2=$(build/bench/bench_similar "$DIR/vectors.f32" "$ROWS" "$DIM" "$K" 2)
  ours1t2=$(OMP_NUM_THREADS=2 mpirun -np 1 --bind-to none build/grlm similar --vectors "$DIR/vectors.h5:/x" --k "$K" --output "$DIR/out1t2.h5" 2>&1 | ring_seconds)
fi
python3 - "$ROWS" "$DIM" "$K" "$faiss1" "$ours1" "$ours2" "$faiss2" "$ours1t2" <<'PY'
import json, sys
rows, dim, k = sys.argv[1:4]
faiss1 = json.loads(sys.argv[4])["faiss_seconds"]; ours1, ours2 = float(sys.argv[5]), float(sys.argv[6])
faiss2 = json.loads(sys.argv[7])["faiss_seconds"]; ours1t2 = float(sys.argv[8])
print(f"N = {rows}, d = {dim}, k = {k}")
print(f"  1 thread : grlm np 1 {ours1:8.2f} s   FAISS {faiss1:8.2f} s   ratio {faiss1 / ours1:.2f}x")
if ours1t2 > 0:
    print(f"  2 threads: grlm np 1 {ours1t2:8.2f} s   FAISS {faiss2:8.2f} s   ratio {faiss2 / ours1t2:.2f}x")
print(f"  grlm np 2 (1 thread each) {ours2:8.2f} s: speed-up from 1 to 2 ranks {ours1 / ours2:.2f}x")
PY
