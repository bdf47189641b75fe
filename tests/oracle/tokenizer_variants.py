"""Test oracle: small tokenizers of other layouts, trained with the `tokenizers` library on the
parity corpus, and their ids/decodings on it. Covers what the Qwen3 file does not use:

  gpt2   byte-level BPE, ByteLevel pre-tokenizer with its own regex and add_prefix_space
  llama  SentencePiece-style BPE: Prepend/Replace normalizer, byte_fallback, unk, Llama decoders
  meta   Metaspace pre-tokenizer and decoder, NFKC + Lowercase normalizer
  words  WordLevel with Whitespace pre-tokenizer, BERT-style template post-processor
  llama3 the gpt2 layout with ignore_merges (whole words in the vocabulary skip the merges) and
         Digits (runs of digits) after a Split regex, as Llama-3-style files have

Writes OUT/<name>.json and OUT/<name>.expected.jsonl ({"ids", "ids_special", "decoded",
"decoded_skip_special"} per corpus line).
"""
import argparse
import json
import os

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers


def gpt2():
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True, use_regex=True)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=3000, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  special_tokens=["<|endoftext|>"], show_progress=False)
    return tokenizer, trainer


def llama():
    tokenizer = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    tokenizer.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    tokenizer.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
                                           decoders.Strip(" ", 1, 0)])
    trainer = trainers.BpeTrainer(vocab_size=2500, special_tokens=["<unk>", "<s>", "</s>"] +
                                  [f"<0x{b:02X}>" for b in range(256)], show_progress=False, limit_alphabet=300)
    return tokenizer, trainer


def meta():
    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    trainer = trainers.BpeTrainer(vocab_size=2500, special_tokens=["<unk>"], show_progress=False, limit_alphabet=400)
    return tokenizer, trainer


def words():
    tokenizer = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.Sequence([normalizers.NFD(), normalizers.StripAccents(), normalizers.Lowercase()])
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Whitespace(),
                                                       pre_tokenizers.Digits(individual_digits=True)])
    trainer = trainers.WordLevelTrainer(vocab_size=4000, special_tokens=["[UNK]", "[CLS]", "[SEP]"], show_progress=False)
    return tokenizer, trainer


def llama3_from(gpt2_file, out_file):
    spec = json.load(open(gpt2_file, encoding="utf-8"))
    spec["model"]["ignore_merges"] = True
    spec["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"},
         "behavior": "Isolated", "invert": False},
        {"type": "Digits", "individual_digits": False},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]}
    json.dump(spec, open(out_file, "w", encoding="utf-8"), ensure_ascii=False)


def finish(name, tokenizer):
    if name == "words":
        tokenizer.post_processor = processors.TemplateProcessing(
            single="[CLS] $A [SEP]", special_tokens=[("[CLS]", tokenizer.token_to_id("[CLS]")),
                                                     ("[SEP]", tokenizer.token_to_id("[SEP]"))])
    if name == "llama":
        tokenizer.post_processor = processors.TemplateProcessing(
            single="<s> $A", special_tokens=[("<s>", tokenizer.token_to_id("<s>"))])
        tokenizer.add_tokens(["<sep>"])  # a non-special added token, matched in normalized text


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    texts = [json.loads(line) for line in open(args.corpus, encoding="utf-8")]
    training = [t for t in texts[:20000] if len(t) < 2000]
    sample = texts[::7]
    for name, build in (("gpt2", gpt2), ("llama", llama), ("meta", meta), ("words", words), ("llama3", None)):
        if build is None:
            llama3_from(os.path.join(args.out, "gpt2.json"), os.path.join(args.out, f"{name}.json"))
        else:
            tokenizer, trainer = build()
            tokenizer.train_from_iterator(training, trainer=trainer)
            finish(name, tokenizer)
            tokenizer.save(os.path.join(args.out, f"{name}.json"))
        tokenizer = Tokenizer.from_file(os.path.join(args.out, f"{name}.json"))
        with open(os.path.join(args.out, f"{name}.expected.jsonl"), "w", encoding="utf-8") as out:
            for text in sample:
                ids = tokenizer.encode(text, add_special_tokens=False).ids
                out.write(json.dumps({
                    "text": text,
                    "ids": ids,
                    "ids_special": tokenizer.encode(text, add_special_tokens=True).ids,
                    "decoded": tokenizer.decode(ids, skip_special_tokens=False),
                    "decoded_skip_special": tokenizer.decode(ids, skip_special_tokens=True),
                }, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
