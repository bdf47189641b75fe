#!/usr/bin/env bash
# Model checks on a GPU machine with nvcc and PyTorch but no MPI, HDF5 or network (the device
# machine): builds bench/bench_model against that machine's libtorch, then runs
# tests/gpu/model_gpu.py: parity with transformers on CUDA (float32 and bfloat16) and the bf16
# throughput benchmark of a ~0.5B Qwen3, then the bf16 training benchmark (bench_train_gpu vs
# PyTorch with fused AdamW), then the similarity ring on the GPU (tests/gpu/similar_gpu.cpp).
# Needs gpu-deps/include/nlohmann (carried: the json header).
# Writes logs to $OUT (when set) or build-gpu/.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT_DIR="${OUT:-build-gpu}"
mkdir -p build-gpu/obj "$OUT_DIR"
export PYTHONUNBUFFERED=1
{
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
  python3 -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__)"
  read -r -a TORCH_FLAGS <<< "$(python3 - <<'PY'
import torch
from torch.utils.cpp_extension import include_paths, library_paths
flags = [f"-I{p}" for p in include_paths()] + [f"-D_GLIBCXX_USE_CXX11_ABI={int(torch._C._GLIBCXX_USE_CXX11_ABI)}"]
print(" ".join(flags))
PY
)"
  TORCH_LIB="$(python3 -c 'import torch, os; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')"
  SOURCES="src/model/transformer.cpp src/model/checkpoint.cpp src/model/generation.cpp src/model/safetensors.cpp
           src/model/model_config.cpp src/data/json_file.cpp src/data/utf8.cpp src/core/error.cpp bench/bench_model.cpp"
  start=$(date +%s)
  for source in $SOURCES; do
    g++ -std=c++20 -O2 -DOMPI_SKIP_MPICXX=1 -Iinclude -Igpu-deps/include "${TORCH_FLAGS[@]}" -c "$source" \
      -o "build-gpu/obj/$(basename "$source" .cpp).o" &
  done
  wait
  g++ build-gpu/obj/*.o -o build-gpu/bench_model -L"$TORCH_LIB" -Wl,-rpath,"$TORCH_LIB" \
    -Wl,--no-as-needed -ltorch_cuda -lc10_cuda -Wl,--as-needed -ltorch -ltorch_cpu -lc10 -lpthread
  echo "built bench_model in $(( $(date +%s) - start )) s"
  python3 tests/gpu/model_gpu.py build-gpu/bench_model build-gpu/models
  # Training (issue 9): grlm's transformer + ZeRO-2 optimizer vs PyTorch with fused AdamW, a ~0.5B
  # Qwen3 shape (Qwen2.5-0.5B-like: hidden 896, 24 layers, vocab 151,936), sequence 1024, bf16.
  TRAIN_SOURCES="src/train/zero.cpp src/core/comm.cpp bench/bench_train_gpu.cpp"
  for source in $TRAIN_SOURCES; do
    g++ -std=c++20 -O2 -DGRLM_BENCH_CUDA=1 -DOMPI_SKIP_MPICXX=1 -Iinclude -Igpu-deps/include "${TORCH_FLAGS[@]}" -c "$source" \
      -o "build-gpu/train-obj-$(basename "$source" .cpp).o" &
  done
  wait
  g++ build-gpu/train-obj-*.o $(ls build-gpu/obj/*.o | grep -v bench_model) -o build-gpu/bench_train_gpu -L"$TORCH_LIB" \
    -Wl,-rpath,"$TORCH_LIB" -Wl,--no-as-needed -ltorch_cuda -lc10_cuda -Wl,--as-needed -ltorch -ltorch_cpu -lc10 -lpthread
  SHAPE="896 24 14 2 4864 151936 1024 4 12 989.4"
  echo "train grlm:    $(build-gpu/bench_train_gpu --hidden 896 --layers 24 --heads 14 --kv-heads 2 --intermediate 4864 --vocab 151936 --seq 1024 --micro 4 --steps 12)"
  echo "train PyTorch: $(python3 bench/bench_train_gpu.py $SHAPE)"
  echo "train grlm (activation checkpointing, micro 8):    $(build-gpu/bench_train_gpu --hidden 896 --layers 24 --heads 14 --kv-heads 2 --intermediate 4864 --vocab 151936 --seq 1024 --micro 8 --steps 12 --checkpointing)"
  echo "train PyTorch (gradient checkpointing, micro 8): $(python3 bench/bench_train_gpu.py 896 24 14 2 4864 151936 1024 8 12 989.4 checkpointing)"
  # Similarity (issue 4): the GPU ring's merge against the CPU's on exact ties, and its speed.
  NCCL_DIR="$(python3 -c 'import nvidia.nccl as n; print(list(n.__path__)[0])' 2> /dev/null || true)"
  NCCL_FLAGS=(-lnccl)
  if [ -n "$NCCL_DIR" ] && [ -f "$NCCL_DIR/include/nccl.h" ]; then
    NCCL_FLAGS=(-I"$NCCL_DIR/include" -L"$NCCL_DIR/lib" -Wl,-rpath,"$NCCL_DIR/lib" -l:libnccl.so.2)
  fi
  CUDA_HOME="${CUDA_HOME:-$(dirname "$(dirname "$(command -v nvcc)")")}"
  g++ -std=c++20 -O2 -DGRLM_HAVE_CUDA=1 -DOMPI_SKIP_MPICXX=1 -Iinclude -Igpu-deps/include -I"$CUDA_HOME/include" \
    "${TORCH_FLAGS[@]}" tests/gpu/similar_gpu.cpp src/model/similarity.cpp src/core/comm.cpp src/core/comm_nccl.cpp \
    src/core/error.cpp -o build-gpu/similar_gpu -Wl,--allow-shlib-undefined -L"$TORCH_LIB" -Wl,-rpath,"$TORCH_LIB" -Wl,--no-as-needed -ltorch_cuda \
    -lc10_cuda -Wl,--as-needed -ltorch -ltorch_cpu -lc10 -L"$CUDA_HOME/lib64" -lcudart "${NCCL_FLAGS[@]}" -lpthread
  build-gpu/similar_gpu 100000 1024
} 2>&1 | tee "$OUT_DIR/gpu_model_checks.log"
exit "${PIPESTATUS[0]}"
