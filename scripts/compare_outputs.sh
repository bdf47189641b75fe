#!/usr/bin/env bash
# Runs the same pipeline with two grlm binaries and compares every output byte for byte
# (tests/oracle/compare_runs.py): the check that a refactoring changed no result. The pipeline is
# the demo's (configs/demo.json on `grlm synth` data, 2 ranks) unless CONFIG and SETS say
# otherwise (e.g. the Beauty pipeline: CONFIG=configs/beauty.json SETS="data.interactions=...").
# Usage: scripts/compare_outputs.sh BEFORE_GRLM AFTER_GRLM [OUT_DIR (default runs/compare)]
set -euo pipefail
cd "$(dirname "$0")/.."
BEFORE="$1" AFTER="$2" OUT="${3:-runs/compare}" CONFIG="${CONFIG:-configs/demo.json}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
rm -rf "$OUT" && mkdir -p "$OUT"
SET_ARGS=()
if [ -z "${SETS+x}" ]; then
  "$AFTER" synth --items 1000 --users 2000 --seed 42 --out "$OUT/data" > /dev/null
  SETS="data.catalog=$OUT/data/catalog.json data.interactions=$OUT/data/interactions.txt"
fi
for assignment in $SETS; do SET_ARGS+=(--set "$assignment"); done
for side in before after; do
  binary=$BEFORE; [ "$side" = after ] && binary=$AFTER
  mpirun -np 2 --oversubscribe --bind-to none "$binary" run --config "$CONFIG" --set "run_dir=$OUT/$side" "${SET_ARGS[@]}" \
    > "$OUT/$side.log" 2>&1 || { tail -20 "$OUT/$side.log"; exit 1; }
done
python3 tests/oracle/compare_runs.py "$OUT/before" "$OUT/after"
