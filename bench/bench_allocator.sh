#!/usr/bin/env bash
# Beauty training speed by memory allocator: grlm as built (tcmalloc linked when
# libgoogle-perftools-dev is found, CMake GRLM_WITH_TCMALLOC) against the anchor, the same sources
# built with -DGRLM_WITH_TCMALLOC=OFF (glibc malloc). Another allocator is tried by giving a
# wrapper script as GRLM, e.g. `LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2 exec ANCHOR "$@"`.
# libtorch allocates and frees every activation and gradient of every micro-batch through malloc
# on the CPU (no caching allocator there).
#
#   GRLM_ANCHOR=build-glibc/grlm bench/bench_allocator.sh [STEPS] [ROUNDS] [RANKS]
#
# configs/beauty.json through build-sft once, then STEPS optimizer steps of its training per arm,
# ROUNDS times, the arms alternating (this VM's speed drifts over minutes); seconds a step are
# timed between the log lines of step 20 and step STEPS (start-up and the first steps left out;
# steps are logged every 10, so STEPS is a multiple of 10).
# Environment: GRLM (default build/grlm), GRLM_ANCHOR (required), BEAUTY_DATA, RUN.
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS="${1:-120}" ROUNDS="${2:-2}" RANKS="${3:-2}"
GRLM="${GRLM:-build/grlm}"
ANCHOR="${GRLM_ANCHOR:?set GRLM_ANCHOR to a grlm built with -DGRLM_WITH_TCMALLOC=OFF}"
B="${BEAUTY_DATA:-../shared/data/beauty}" RUN="${RUN:-runs/bench-allocator}"
[ "$STEPS" -gt 20 ] && [ $((STEPS % 10)) -eq 0 ] || { echo "bench_allocator.sh: STEPS must be a multiple of 10 above 20" >&2; exit 2; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
allocator() {  # what the binary links (a wrapper script: what it preloads)
  if [ "$(head -c 2 "$1")" = "#!" ]; then grep -o 'lib[a-z_]*malloc[^ ]*' "$1" | head -1 || echo "glibc malloc"
  elif ldd "$1" | grep -q libtcmalloc; then echo tcmalloc
  else echo "glibc malloc"; fi
}
echo "candidate $GRLM: $(allocator "$GRLM"); anchor $ANCHOR: $(allocator "$ANCHOR")"

SETS=(--config configs/beauty.json --set "run_dir=$RUN" --set "data.interactions=$B/sequential_data.txt"
      --set "data.tids=$B/beauty_item_id2tid.json" --set "data.neighbours=$B/similar_item_sasrec_num.txt")
mkdir -p "$(dirname "$RUN")"
mpirun -np "$RANKS" --oversubscribe "$GRLM" run "${SETS[@]}" --until build-sft > "$RUN.log" 2>&1

seconds_a_step() {  # LOG: mean seconds a step between step 20 and step STEPS
  python3 - "$1" "$STEPS" <<'PY'
import datetime, re, sys
log, steps = sys.argv[1], int(sys.argv[2])
at = {}
for line in open(log):
    found = re.match(r"\[r0 (\S+ \S+) INFO\] train: step (\d+)/", line)
    if found:
        at[int(found.group(2))] = datetime.datetime.strptime(found.group(1), "%Y-%m-%d %H:%M:%S.%f")
print(f"{(at[steps] - at[20]).total_seconds() / (steps - 20):.4f}")
PY
}

declare -A TOTAL=([candidate]=0 [anchor]=0)
for round in $(seq "$ROUNDS"); do
  for arm in candidate anchor; do
    binary="$GRLM"; [ "$arm" = anchor ] && binary="$ANCHOR"
    log="$RUN-$arm-$round.log"
    status=0
    mpirun -np "$RANKS" --oversubscribe "$binary" run "${SETS[@]}" --from train --until train \
      --set train.stop_after_steps="$STEPS" --set train.log_steps=10 --set train.save_steps=100000 > "$log" 2>&1 || status=$?
    [ "$status" -eq 75 ] || { echo "bench_allocator.sh: $arm run exited $status (see $log)" >&2; exit 1; }
    step=$(seconds_a_step "$log")
    TOTAL[$arm]=$(python3 -c "print(${TOTAL[$arm]} + $step)")
    echo "round $round $arm ($(allocator "$binary")): $step s a step"
  done
done
python3 - "${TOTAL[candidate]}" "${TOTAL[anchor]}" "$ROUNDS" <<'PY'
import sys
candidate, anchor, rounds = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
print(f"mean over {rounds} round(s): candidate {candidate / rounds:.4f} s a step, anchor {anchor / rounds:.4f} s a step, "
      f"speed-up {anchor / candidate:.3f}x")
PY
