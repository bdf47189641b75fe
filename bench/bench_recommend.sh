#!/usr/bin/env bash
# `grlm recommend` throughput (issue 25) on the Beauty model: users/s at np 1 and np 2 for the
# first USERS Beauty users' histories up to their second-to-last item, beside `grlm evaluate
# --split validation` on the same users in the same run (the anchor: the same prompts and beam
# search, from the run's own users). The model is runs/beauty's when it exists (bench/
# bench_quality_beauty.sh), else configs/beauty.json trained for STEPS steps into RUN (enough for
# speed: the architecture, vocabulary and decoding are the Beauty model's, only its quality is not).
# Usage: bench/bench_recommend.sh [USERS (default 512)] [STEPS (default 200)]
set -euo pipefail
cd "$(dirname "$0")/.."
USERS="${1:-512}" STEPS="${2:-200}"
B="${BEAUTY_DATA:-../shared/data/beauty}" GRLM="${GRLM:-build/grlm}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
DATA=(--config configs/beauty.json --set "data.interactions=$B/sequential_data.txt"
      --set "data.tids=$B/beauty_item_id2tid.json" --set "data.neighbours=$B/similar_item_sasrec_num.txt")
RUN=runs/beauty
if [ ! -f "$RUN/model/model.safetensors" ]; then
  RUN=runs/beauty-recommend-bench
  DATA+=(--set "train.max_steps=$STEPS")
  mpirun -np 2 --oversubscribe "$GRLM" run "${DATA[@]}" --set "run_dir=$RUN" --set evaluate.max_users=16 \
    > "$RUN.log" 2>&1 || { tail -20 "$RUN.log"; exit 1; }
fi
OUT=runs/recommend-bench
mkdir -p "$OUT"
head -n "$USERS" "$B/sequential_data.txt" | awk 'NF >= 4 { line = $1; for (i = 2; i <= NF - 2; ++i) line = line " " $i; print line }' \
  > "$OUT/histories.txt"
users_per_second() { grep -oP "$1: \d+ users in [0-9.]+ s \(\K[0-9.]+" "$2" | tail -1; }
printf "%-44s %6s %10s\n" "what ($(wc -l < "$OUT/histories.txt") Beauty users, $(nproc) cores)" ranks users/s
for ranks in 1 2; do
  rm -f "$OUT/recs-np$ranks.jsonl"
  mpirun -np "$ranks" --oversubscribe "$GRLM" recommend --run-dir "$RUN" --input "$OUT/histories.txt" \
    --output "$OUT/recs-np$ranks.jsonl" --k 10 > "$OUT/recommend-np$ranks.log" 2>&1
  printf "%-44s %6s %10s\n" "grlm recommend --k 10" "$ranks" "$(users_per_second recommend "$OUT/recommend-np$ranks.log")"
done
# The anchor: evaluate's validation split on the same users (a copy of the run, so its records stay).
rm -rf "$OUT/run" && cp -r "$RUN" "$OUT/run"
mpirun -np 2 --oversubscribe "$GRLM" evaluate "${DATA[@]}" --set "run_dir=$OUT/run" --set evaluate.split=validation \
  --set "evaluate.max_users=$USERS" --set "evaluate.model=$RUN/model" > "$OUT/evaluate.log" 2>&1 \
  || { tail -20 "$OUT/evaluate.log"; exit 1; }
printf "%-44s %6s %10s\n" "grlm evaluate --split validation (anchor)" 2 "$(grep -oP "evaluate \(validation[^)]*\): \d+ users in [0-9.]+ s \(\K[0-9.]+" "$OUT/evaluate.log" | tail -1)"
