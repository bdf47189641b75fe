"""The anchor of the tokenizer benchmark: Hugging Face `tokenizers` (Rust) batch encode, on one
thread and on all cores, on the same corpus; prints one JSON line."""
import json
import os
import sys
import time


def best_of(repeats, work):
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - start)
    return best


def main():
    tokenizer_file, corpus_file, threads = sys.argv[1], sys.argv[2], sys.argv[3]
    repeats = int(sys.argv[4]) if len(sys.argv) > 4 else 3
    os.environ["RAYON_NUM_THREADS"] = threads  # must be set before tokenizers starts its pool
    from tokenizers import Tokenizer
    tokenizer = Tokenizer.from_file(tokenizer_file)
    texts = [json.loads(line) for line in open(corpus_file, encoding="utf-8")]
    megabytes = sum(len(t.encode("utf-8")) for t in texts) / 1e6
    tokenizer.encode_batch(texts, add_special_tokens=False)  # warm-up
    seconds = best_of(repeats, lambda: tokenizer.encode_batch(texts, add_special_tokens=False))
    print(json.dumps({"threads": int(threads), "tokenizers_mb_per_s": megabytes / seconds}))


if __name__ == "__main__":
    main()
