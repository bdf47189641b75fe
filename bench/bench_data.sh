#!/usr/bin/env bash
# Sizing figures for the data layer: grlm synth and the loaders (every rank loads and checks the
# inputs at the start of `grlm run`) at scale. Usage: bench/bench_data.sh [ITEMS] [USERS]
set -euo pipefail
cd "$(dirname "$0")/.."
ITEMS="${1:-1000000}"
USERS="${2:-2000000}"
OUT="runs/bench-data"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
rm -rf "$OUT"
measure() {  # prints "seconds peak_rss_MiB" of a command
  /usr/bin/time -f "%e %M" "$@" 2> "$OUT.time" > /dev/null || true
  tail -1 "$OUT.time" | awk '{printf "%.2f s, peak RSS %.0f MiB", $1, $2 / 1024}'
}
mkdir -p "$OUT"
echo "synth $ITEMS items, $USERS users: $(measure build/grlm synth --items "$ITEMS" --users "$USERS" --out "$OUT/data")"
du -h "$OUT/data/catalog.json" "$OUT/data/interactions.txt"
for ranks in 1 2; do
  echo "grlm run, loading and checking the inputs on $ranks rank(s) (stops at the first stage not built): $(
    measure mpirun -np "$ranks" build/grlm run --run-dir "$OUT/run" --set data.catalog="$OUT/data/catalog.json" \
      --set data.interactions="$OUT/data/interactions.txt")"
done
