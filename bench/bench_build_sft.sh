#!/usr/bin/env bash
# build-sft time and peak memory per rank at np = 1 and 2: Beauty (released TIDs and SASRec
# neighbours, word-level tokenizer) and a grlm synth dataset (synthetic TIDs, computed
# neighbours). Usage: bench/bench_build_sft.sh [SYNTH_ITEMS] [SYNTH_USERS] (default 1000000 2000000)
set -euo pipefail
cd "$(dirname "$0")/.."
ITEMS="${1:-1000000}"
USERS="${2:-2000000}"
OUT=runs/bench-build-sft
BEAUTY=../shared/data/beauty
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
rm -rf "$OUT"
mkdir -p "$OUT"
build/grlm synth --items "$ITEMS" --users "$USERS" --out "$OUT/synth" > /dev/null 2>&1
measure() {  # wall seconds and the largest peak RSS of any rank
  local name=$1 ranks=$2
  shift 2
  /usr/bin/time -f "%e %M" -o "$OUT/$name.time" mpirun -np "$ranks" \
    bash -c '/usr/bin/time -f "%M" -o "$0.rss.$OMPI_COMM_WORLD_RANK" "$@"' "$OUT/$name" build/grlm run "$@" \
    > "$OUT/$name.log" 2>&1
  local seconds peak
  seconds=$(awk '{print $1}' "$OUT/$name.time")
  peak=$(cat "$OUT/$name".rss.* | sort -n | tail -1)
  printf "%-40s np=%d  %7.1f s  peak RSS per rank %6.0f MiB\n" "$name" "$ranks" "$seconds" "$((peak / 1024))"
}
for ranks in 1 2; do
  measure "beauty-np$ranks" "$ranks" --run-dir "$OUT/beauty-np$ranks" --until build-sft \
    --set data.interactions=$BEAUTY/sequential_data.txt --set data.tids=$BEAUTY/beauty_item_id2tid.json \
    --set data.neighbours=$BEAUTY/similar_item_sasrec_num.txt
  measure "synth-${ITEMS}x${USERS}-np$ranks" "$ranks" --run-dir "$OUT/synth-np$ranks" --until build-sft \
    --set data.catalog="$OUT/synth/catalog.json" --set data.interactions="$OUT/synth/interactions.txt" \
    --set data.tids="$OUT/synth/synthetic_item_id2tid.json"
done
grep -h "build-sft:" "$OUT"/*-np1.log | sed 's/^\[r0 [^]]*\] /  /'
