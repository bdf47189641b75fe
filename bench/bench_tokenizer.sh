#!/usr/bin/env bash
# Tokenizer encode throughput: grlm vs Hugging Face tokenizers (Rust, batch API) on the same
# corpus in the same run, one thread and all cores. Corpus: the parity-test corpus (catalog text,
# TIDs, prompts, adversarial Unicode). Usage: bench/bench_tokenizer.sh [REPEATS]
set -euo pipefail
cd "$(dirname "$0")/.."
REPEATS="${1:-3}"
TOKENIZER=../shared/models/qwen3-tokenizer/tokenizer.json
OUT=runs/bench-tokenizer
mkdir -p "$OUT"
cmake -S . -B build -DGRLM_BUILD_BENCH=ON > /dev/null
cmake --build build -j2 --target bench_tokenizer > /dev/null
python3 tests/oracle/tokenizer_corpus.py --data ../shared/data/beauty --out "$OUT/full.jsonl" > /dev/null
python3 tests/oracle/tokenizer_corpus.py --data ../shared/data/beauty --out "$OUT/natural.jsonl" --natural-only > /dev/null
CORES=$(nproc)
for corpus in natural full; do
ours=$(build/bench/bench_tokenizer "$TOKENIZER" "$OUT/$corpus.jsonl" "$REPEATS")
anchor_1=$(python3 bench/bench_tokenizer.py "$TOKENIZER" "$OUT/$corpus.jsonl" 1 "$REPEATS")
anchor_all=$(python3 bench/bench_tokenizer.py "$TOKENIZER" "$OUT/$corpus.jsonl" "$CORES" "$REPEATS")
python3 - "$corpus" "$ours" "$anchor_1" "$anchor_all" <<'PY'
import json, sys
name = sys.argv[1]
ours, one, every = (json.loads(a) for a in sys.argv[2:5])
print(f"{name} corpus: {ours['texts']} texts, {ours['megabytes']:.2f} MB, {ours['tokens']} tokens")
for label, mine, theirs in (("1 thread", ours["grlm_mb_per_s_1_thread"], one["tokenizers_mb_per_s"]),
                            (f"{ours['threads_all']} threads", ours["grlm_mb_per_s_all_threads"], every["tokenizers_mb_per_s"])):
    print(f"{label:>10}: grlm {mine:7.2f} MB/s   tokenizers {theirs:7.2f} MB/s   ratio {mine / theirs:.2f}x")
PY
done
