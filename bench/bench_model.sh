#!/usr/bin/env bash
# Model throughput, grlm (libtorch C++) vs transformers generate (PyTorch eager) on the same random
# Qwen3 checkpoint, same device, dtype and threads, same run: prefill tokens/s, greedy decode
# tokens/s, 20-beam search tokens/s.
# Usage: bench/bench_model.sh [SIZES] [DEVICE] [DTYPE]    e.g. bench/bench_model.sh "30m 0.5b" cpu float32
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES="${1:-30m 0.5b}"
DEVICE="${2:-cpu}"
DTYPE="${3:-float32}"
THREADS="${THREADS:-$(nproc)}"
BATCH="${BATCH:-4}" PROMPT="${PROMPT:-64}" NEW="${NEW:-32}" BEAMS="${BEAMS:-20}" REPEATS="${REPEATS:-2}"
BENCH_BIN="${BENCH_BIN:-build/bench/bench_model}"
if [ ! -x "$BENCH_BIN" ]; then
  cmake -S . -B build -DGRLM_BUILD_BENCH=ON > /dev/null
  cmake --build build -j2 --target bench_model > /dev/null
fi
mkdir -p runs/bench-model
for size in $SIZES; do
  dir=runs/bench-model/qwen3-$size
  [ -f "$dir/model.safetensors" ] || python3 bench/bench_model.py make "$dir" "$size" > /dev/null
  ours=$(OMP_NUM_THREADS=$THREADS "$BENCH_BIN" bench --model "$dir" --device "$DEVICE" --dtype "$DTYPE" --threads "$THREADS" \
         --batch "$BATCH" --prompt-len "$PROMPT" --new-tokens "$NEW" --beams "$BEAMS" --repeats "$REPEATS")
  theirs=$(OMP_NUM_THREADS=$THREADS python3 bench/bench_model.py bench "$dir" "$DEVICE" "$DTYPE" "$THREADS" "$BATCH" "$PROMPT" "$NEW" "$BEAMS" "$REPEATS" 2> /dev/null)
  python3 - "$size" "$DEVICE" "$DTYPE" "$ours" "$theirs" <<'PY'
import json, sys
size, device, dtype = sys.argv[1:4]
ours, theirs = json.loads(sys.argv[4]), json.loads(sys.argv[5])
print(f"Qwen3 {size} ({ours['parameters'] / 1e6:.0f}M parameters), {device} {dtype}, {ours['threads']} threads")
for key, label in (("prefill_tokens_per_s", "prefill tokens/s"), ("decode_tokens_per_s", "greedy decode tokens/s"),
                   ("beam_tokens_per_s", "20-beam tokens/s (rows x steps)")):
    print(f"  {label:<34} grlm {ours[key]:10.1f}   transformers {theirs[key]:10.1f}   ratio {ours[key] / theirs[key]:.2f}x")
PY
done
