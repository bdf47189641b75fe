#!/usr/bin/env bash
# Fuzzes each input reader (config file, --set values, catalog, interactions, TIDs, neighbours,
# safetensors header) for SECONDS (default 600) with libFuzzer + ASan/UBSan, one after another,
# and prints one row per reader: inputs executed, corpus size, outcome. Stops at the first reader
# that crashes (its reproducer is in build-fuzz/). Usage: bench/bench_fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH="${1:-600}"
printf "%-12s %8s %12s %8s  %s\n" reader seconds executed corpus outcome
for reader in config set catalog interactions tids neighbours safetensors; do
  outcome=ok
  bash scripts/fuzz_inputs.sh "$SECONDS_EACH" --reader "$reader" > /dev/null 2>&1 || outcome=FAILED
  log="build-fuzz/fuzz-inputs-$reader.log"
  executed=$(grep -oP "^stat::number_of_executed_units:\s*\K\d+" "$log" || echo "?")
  corpus=$(grep -oP "corp: \K\d+" "$log" | tail -1 || echo "?")
  printf "%-12s %8s %12s %8s  %s\n" "$reader" "$SECONDS_EACH" "$executed" "$corpus" "$outcome"
  [ "$outcome" = ok ] || { tail -30 "$log"; exit 1; }
done
