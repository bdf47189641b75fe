#!/usr/bin/env bash
# The GPU checks of one device-machine session (a GPU, nvcc and PyTorch; no MPI, HDF5 or network),
# run with the bundle of scripts/gpu_bundle.sh (gpu-runtime/, carried), in order of importance,
# each within what is left of GPU_SESSION_SECONDS (default 540):
#   1. gpu_checks: device selection and the NCCL communicator (one rank)
#   2. similar_gpu: the similarity ring on the GPU against the CPU on exact ties; 100k x 1024 time
#   3. bench/bench_quality_beauty.sh on the GPU (one rank, configs/beauty.json with GPU batch
#      sizes): metrics of all test users, the paired comparison with the transition baseline,
#      Recall@10 against training time
#   4. tests/gpu/model_gpu.py: parity with transformers on CUDA, bf16 generation throughput
#   5. GPU_VARIANT (optional): 3 with more --set overrides (e.g. a larger model), no curve
#   6. bench_train_gpu: training throughput against PyTorch
# Logs and results go to $OUT (when set) or build-gpu/: session.log and one .tar.gz per run.
# GPU_SESSION_STEPS="beauty train_grlm ..." runs only the steps named (gpu_checks, similar_gpu,
# beauty, model_gpu, beauty-variant, train_grlm, train_pytorch).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT_DIR="${OUT:-build-gpu}"
mkdir -p "$OUT_DIR"
R="$PWD/gpu-runtime"
DEADLINE=$(( $(date +%s) + ${GPU_SESSION_SECONDS:-540} ))
export PYTHONUNBUFFERED=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

# The bundle's binaries run through gpu-runtime/with-env (wrappers gpu-runtime/NAME for bin/NAME):
# its libraries before the device's libtorch and CUDA libraries, its Open MPI relocated, one
# process a world of its own (a singleton without a daemon: no mpirun there).
TORCH_LIB="${GPU_TORCH_LIB:-$(python3 -c 'import torch, os; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')}"
NVIDIA_LIBS="$(python3 - <<'PY'
import glob, os
import nvidia
folders = {os.path.dirname(p) for root in nvidia.__path__ for p in glob.glob(root + "/**/lib*.so*", recursive=True)}
print(":".join(sorted(folders)))
PY
)"
CUDA_HOME="${CUDA_HOME:-$(dirname "$(dirname "$(command -v nvcc)")")}"
cat > "$R/with-env" <<EOF
#!/bin/sh
export LD_LIBRARY_PATH="$R/lib:$TORCH_LIB:$NVIDIA_LIBS:$CUDA_HOME/lib64"
export OPAL_PREFIX="$R/ompi/usr" OMPI_MCA_ess_singleton_isolated=1 OMPI_MCA_pml=ob1 OMPI_MCA_btl=self,vader
export OMPI_MCA_mtl='^ofi' OMPI_MCA_osc='^ucx,pt2pt' OMPI_MCA_btl_base_warn_component_unused=0 HWLOC_PLUGINS_PATH="$R/lib"
exec "\$@"
EOF
chmod +x "$R/with-env"
for binary in "$R"/bin/*; do
  printf '#!/bin/sh\nexec "%s" "%s" "$@"\n' "$R/with-env" "$binary" > "$R/$(basename "$binary")"
  chmod +x "$R/$(basename "$binary")"
done
[ -n "${GPU_SESSION_WRAPPERS_ONLY:-}" ] && exit 0

# step NAME SECONDS COMMAND...: runs COMMAND for at most SECONDS (less if the session's time is
# nearly spent), logging to $OUT_DIR/session.log.
step() {
  local name="$1" limit="$2"
  shift 2
  if [ -n "${GPU_SESSION_STEPS:-}" ] && [[ " $GPU_SESSION_STEPS " != *" $name "* ]]; then return; fi
  local left=$(( DEADLINE - $(date +%s) ))
  [ "$left" -lt "$limit" ] && limit="$left"
  if [ "$limit" -lt 20 ]; then
    echo "== $name: skipped (${left} s left)"
    return
  fi
  echo "== $name (at most $limit s)"
  local started status
  started=$(date +%s)
  # A process group of its own, so that the time limit stops the command's children too.
  setsid "$@" &
  local group=$!
  ( sleep "$limit"; kill -TERM -- -"$group"; sleep 10; kill -KILL -- -"$group" ) 2> /dev/null &
  local watchdog=$!
  wait "$group"
  status=$?
  kill "$watchdog" 2> /dev/null
  echo "== $name: exit $status after $(( $(date +%s) - started )) s"
}

pack() {
  local run="$1"
  tar -czf "$OUT_DIR/$(basename "$run").tar.gz" --exclude='*.safetensors' --exclude='grlm.h5' --exclude='records.jsonl' \
    --exclude='sft' --exclude='*.bin' -C "$(dirname "$run")" $(cd "$(dirname "$run")" && ls -d "$(basename "$run")"*) \
    2> /dev/null || true
}

GPU_SETS="device=cuda train.micro_batch_size=64 evaluate.batch_size=64"
# The quality benchmark on one GPU rank; a run adds RUN=..., GRLM_SETS=..., the script and its arguments.
BEAUTY=(env GRLM="$R/grlm" LAUNCH= BEAUTY_DATA="$R/data")
{
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  python3 -c "import torch; print('device libtorch', torch.__version__)"
  step gpu_checks 60 "$R/gpu_checks"
  step similar_gpu 120 "$R/similar_gpu" 100000 1024
  step beauty 300 "${BEAUTY[@]}" RUN=/tmp/gpu/beauty-gpu GRLM_SETS="$GPU_SETS" bench/bench_quality_beauty.sh 1 1000
  [ -d /tmp/gpu/beauty-gpu ] && pack /tmp/gpu/beauty-gpu
  step model_gpu 120 python3 tests/gpu/model_gpu.py "$R/bench_model" /tmp/gpu/models
  if [ -n "${GPU_VARIANT:-}" ]; then
    step beauty-variant 300 "${BEAUTY[@]}" RUN=/tmp/gpu/beauty-gpu-variant GRLM_SETS="$GPU_SETS $GPU_VARIANT" \
      bench/bench_quality_beauty.sh 1 0
    [ -d /tmp/gpu/beauty-gpu-variant ] && pack /tmp/gpu/beauty-gpu-variant
  fi
  step train_grlm 60 "$R/bench_train_gpu" --hidden 896 --layers 24 --heads 14 --kv-heads 2 \
    --intermediate 4864 --vocab 151936 --seq 1024 --micro 4 --steps 12
  step train_pytorch 60 python3 bench/bench_train_gpu.py 896 24 14 2 4864 151936 1024 4 12 989.4
} 2>&1 | tee "$OUT_DIR/session.log"
