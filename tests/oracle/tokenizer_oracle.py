"""Test oracle: token ids and decoded texts from the Hugging Face `tokenizers` library.

For each corpus line (a JSON string) writes {"ids", "decoded", "decoded_skip_special"}.
"""
import argparse
import json

from tokenizers import Tokenizer


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--tokenizer", required=True)
    parser.add_argument("--corpus", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    tokenizer = Tokenizer.from_file(args.tokenizer)
    texts = [json.loads(line) for line in open(args.corpus, encoding="utf-8")]
    encodings = tokenizer.encode_batch(texts, add_special_tokens=False)
    with open(args.out, "w", encoding="utf-8") as out:
        for encoding in encodings:
            ids = encoding.ids
            out.write(json.dumps({
                "ids": ids,
                "decoded": tokenizer.decode(ids, skip_special_tokens=False),
                "decoded_skip_special": tokenizer.decode(ids, skip_special_tokens=True),
            }, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
