#!/usr/bin/env bash
# Builds the input readers' libFuzzer target (config file and --set values, catalog,
# interactions, TIDs, neighbours, safetensors; clang with ASan + UBSan) and fuzzes it for
# SECONDS (default 60) from the corpus kept in tests/fuzz/corpus-inputs (new finds are added there
# only with --grow). A crash, sanitizer report or foreign exception fails with the reproducer.
# Usage: scripts/fuzz_inputs.sh [SECONDS] [--grow]
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_TO_RUN="${1:-60}"
OUT=build-fuzz
mkdir -p "$OUT/corpus-inputs"
CXX="${FUZZ_CXX:-clang++}"
"$CXX" -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -Iinclude $(pkg-config --cflags libxxhash) \
  tests/fuzz/fuzz_inputs.cpp src/core/config.cpp src/core/config_schema.cpp src/core/error.cpp src/core/log.cpp \
  src/data/dataset.cpp src/data/catalog.cpp src/data/interactions.cpp src/data/tids.cpp src/data/tid_words.cpp \
  src/data/neighbours.cpp src/data/json_file.cpp src/data/utf8.cpp src/model/safetensors.cpp \
  $(pkg-config --libs libxxhash) -o "$OUT/fuzz_inputs"
# The kept corpus seeds the run; the working copy collects new finds.
cp -n tests/fuzz/corpus-inputs/* "$OUT/corpus-inputs/" 2> /dev/null || true
"$OUT/fuzz_inputs" -artifact_prefix="$OUT/" -max_total_time="$SECONDS_TO_RUN" -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
  -print_final_stats=1 "$OUT/corpus-inputs" > "$OUT/fuzz-inputs.log" 2>&1 || { tail -40 "$OUT/fuzz-inputs.log"; exit 1; }
grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb" "$OUT/fuzz-inputs.log" || true
if [ "${2:-}" = "--grow" ]; then
  mkdir -p tests/fuzz/corpus-inputs
  "$OUT/fuzz_inputs" -merge=1 tests/fuzz/corpus-inputs "$OUT/corpus-inputs" > /dev/null 2>&1
fi
echo "fuzz_inputs: no crash, no sanitizer report, no foreign exception in ${SECONDS_TO_RUN} s"
