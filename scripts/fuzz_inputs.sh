#!/usr/bin/env bash
# Builds the input readers' libFuzzer target (config file and --set values, catalog,
# interactions, TIDs, neighbours, safetensors; clang with ASan + UBSan) and fuzzes it for
# SECONDS (default 60) from the corpus kept in tests/fuzz/corpus-inputs (new finds are added there
# only with --grow). A crash, sanitizer report or foreign exception fails with the reproducer.
# --reader NAME gives the whole time to one reader (config, set, catalog, interactions, tids,
# neighbours, safetensors); without it the first byte of each input picks the reader.
# Usage: scripts/fuzz_inputs.sh [SECONDS] [--grow] [--reader NAME]
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_TO_RUN=60
GROW=0
READER=""
READERS=(config set catalog interactions tids neighbours safetensors)
while [ $# -gt 0 ]; do
  case "$1" in
    --grow) GROW=1 ;;
    --reader)
      shift
      for i in "${!READERS[@]}"; do [ "${READERS[$i]}" = "${1:-}" ] && READER=$i; done
      [ -n "$READER" ] || { echo "fuzz_inputs.sh: --reader takes one of: ${READERS[*]}" >&2; exit 2; } ;;
    *) SECONDS_TO_RUN="$1" ;;
  esac
  shift
done
# A pinned reader ignores the first byte, so its finds would mean another reader in the kept
# corpus: only an unpinned run grows it.
[ -z "$READER" ] || [ "$GROW" = 0 ] || { echo "fuzz_inputs.sh: --grow only without --reader" >&2; exit 2; }
OUT=build-fuzz
CORPUS="$OUT/corpus-inputs${READER:+-$READER}"
LOG="$OUT/fuzz-inputs${READER:+-${READERS[$READER]}}.log"
mkdir -p "$CORPUS"
SOURCES=(tests/fuzz/fuzz_inputs.cpp src/core/config.cpp src/core/config_schema.cpp src/core/error.cpp src/core/log.cpp
  src/data/dataset.cpp src/data/catalog.cpp src/data/interactions.cpp src/data/tids.cpp src/data/tid_words.cpp
  src/data/neighbours.cpp src/data/json_file.cpp src/data/utf8.cpp src/model/safetensors.cpp)
# Rebuilt only when a source or header is newer than the target (one build serves every reader).
if [ ! -x "$OUT/fuzz_inputs" ] || [ -n "$(find "${SOURCES[@]}" include -newer "$OUT/fuzz_inputs" -print -quit)" ]; then
  "${FUZZ_CXX:-clang++}" -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -Iinclude $(pkg-config --cflags libxxhash) "${SOURCES[@]}" $(pkg-config --libs libxxhash) -o "$OUT/fuzz_inputs"
fi
# The kept corpus seeds the run; the working copy collects new finds.
cp -n tests/fuzz/corpus-inputs/* "$CORPUS/" 2> /dev/null || true
GRLM_FUZZ_READER="$READER" "$OUT/fuzz_inputs" -artifact_prefix="$OUT/" -max_total_time="$SECONDS_TO_RUN" -max_len=8192 \
  -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 "$CORPUS" > "$LOG" 2>&1 || { tail -40 "$LOG"; exit 1; }
grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb" "$LOG" || true
if [ "$GROW" = 1 ]; then
  mkdir -p tests/fuzz/corpus-inputs
  "$OUT/fuzz_inputs" -merge=1 tests/fuzz/corpus-inputs "$CORPUS" > /dev/null 2>&1
fi
echo "fuzz_inputs${READER:+ (${READERS[$READER]})}: no crash, no sanitizer report, no foreign exception in ${SECONDS_TO_RUN} s"
