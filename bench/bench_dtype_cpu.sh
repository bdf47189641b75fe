#!/usr/bin/env bash
# What `dtype: auto` picks on this CPU and what float32 costs where bfloat16 is not native:
# configs/beauty.json's training (the Beauty SFT data, 2 ranks) for STEPS steps as this CPU runs
# it (auto), as an AVX2-only CPU runs it (ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2: auto is
# float32 there), and an explicit bfloat16 on that AVX2 setting (a few steps: it is slow). Prints
# the dtype each run chose and its training tokens/s.
# Usage: bench/bench_dtype_cpu.sh [STEPS] [BF16_ON_AVX2_STEPS]
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS="${1:-60}" SLOW_STEPS="${2:-4}"
B="${BEAUTY_DATA:-../shared/data/beauty}" RUN="${RUN:-runs/bench-dtype}" GRLM="${GRLM:-build/grlm}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
DATA=(--set "data.interactions=$B/sequential_data.txt" --set "data.tids=$B/beauty_item_id2tid.json"
      --set "data.neighbours=$B/similar_item_sasrec_num.txt")
mkdir -p "$(dirname "$RUN")"
mpirun -np 2 --oversubscribe "$GRLM" run --config configs/beauty.json --set "run_dir=$RUN" "${DATA[@]}" --until build-sft \
  > "$RUN.sft.log" 2>&1

train() {  # NAME STEPS [ENV ...] -- [--set ...]
  local name="$1" steps="$2"; shift 2
  local envs=()
  while [ "$1" != "--" ]; do envs+=("$1"); shift; done
  shift
  rm -rf "$RUN-$name"
  cp -r "$RUN" "$RUN-$name"  # build-sft reused
  env "${envs[@]}" mpirun -np 2 --oversubscribe -x ATEN_CPU_CAPABILITY -x ONEDNN_MAX_CPU_ISA "$GRLM" run \
    --config configs/beauty.json --set "run_dir=$RUN-$name" "${DATA[@]}" --until train --set "train.max_steps=$steps" \
    --set train.log_steps=1 --set train.export=false "$@" > "$RUN-$name.log" 2>&1
  local chose speed
  chose=$(grep -o "parameters, [a-z0-9]* ([^)]*)" "$RUN-$name.log" | head -1)
  # tokens/s of the steps after the first two (warm-up)
  speed=$(grep -o "step [0-9]*/[0-9]* .* [0-9.]* tokens/s" "$RUN-$name.log" | awk 'NR > 2 {for (i = 1; i <= NF; ++i) if ($i == "tokens/s") {s += $(i - 1); n++}} END {if (n) printf "%.0f", s / n}')
  printf '%-22s %-10s %s\n' "$name" "${speed:-?}" "$chose"
}
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), family $(grep -m1 'cpu family' /proc/cpuinfo | cut -d: -f2 | xargs) model $(grep -m1 '^model' /proc/cpuinfo | cut -d: -f2 | xargs); $(nproc) cores"
printf '%-22s %-10s %s\n' run tokens/s "dtype (why)"
train native-auto "$STEPS" ATEN_CPU_CAPABILITY= ONEDNN_MAX_CPU_ISA= --
train native-float32 "$STEPS" ATEN_CPU_CAPABILITY= ONEDNN_MAX_CPU_ISA= -- --set train.dtype=float32
train avx2-auto "$STEPS" ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 --
train avx2-bfloat16 "$SLOW_STEPS" ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 -- --set train.dtype=bfloat16
