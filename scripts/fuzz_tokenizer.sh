#!/usr/bin/env bash
# Builds the tokenizer's libFuzzer target with AddressSanitizer and UBSan (clang) and fuzzes
# encode/decode for SECONDS (default 60), seeded with the parity corpus' shapes.
# Usage: scripts/fuzz_tokenizer.sh [SECONDS]; exits non-zero on a crash or sanitizer report.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_TO_RUN="${1:-60}"
OUT=build-fuzz
mkdir -p "$OUT/corpus"
CXX="${FUZZ_CXX:-clang++}"
# shellcheck disable=SC2046
"$CXX" -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -Iinclude $(pkg-config --cflags libpcre2-8 libutf8proc libxxhash) \
  tests/fuzz/fuzz_tokenizer.cpp src/text/*.cpp src/data/json_file.cpp src/data/utf8.cpp src/data/tid_words.cpp src/core/error.cpp \
  $(pkg-config --libs libpcre2-8 libutf8proc libxxhash) -o "$OUT/fuzz_tokenizer"
# Seeds: a few real and adversarial strings.
printf 'Item text ID: [hair-mask, color-lock, citrus, protein, unisex] Title: None.\n' > "$OUT/corpus/seed1"
printf '<|im_start|>user\nHello\xc3\xa9 \xe2\x80\x8b\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9<|im_end|>' > "$OUT/corpus/seed2"
printf "e\xcc\x81 'S 'll  \r\n\t\xc2\x85 123456 \xef\xbc\xa1" > "$OUT/corpus/seed3"
GRLM_FUZZ_TOKENIZER="${GRLM_FUZZ_TOKENIZER:-../shared/models/qwen3-tokenizer/tokenizer.json}" \
  "$OUT/fuzz_tokenizer" -max_total_time="$SECONDS_TO_RUN" -max_len=4096 -print_final_stats=1 "$OUT/corpus" \
  > "$OUT/fuzz.log" 2>&1 || { tail -40 "$OUT/fuzz.log"; exit 1; }
grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb" "$OUT/fuzz.log" || true
echo "fuzz_tokenizer: no crash, no sanitizer report in ${SECONDS_TO_RUN} s"
