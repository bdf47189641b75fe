"""Property test: TIDs whose words come from every character class a TID file may hold (released
TIDs hold "1:53-scale", "5.3:1", "4.2-oz."; here also '/', "'", digits, other scripts, NFD
forms, emoji, inner spaces, upper case) run through the whole from-scratch pipeline.

For each seed: `grlm synth` data whose TID file is replaced by generated words; `grlm run` on
2 ranks: build-sft -> train (a few steps) -> evaluate with trie-constrained beams. Checks:
1. the run finishes; build-sft's tokenizer.json loads in Hugging Face `tokenizers` and encodes
   every TID and every item line exactly as `grlm tokenize` does (the oracle);
2. every TID word is one token (no unknown token) and the TID's tokens inside its item line are
   those of the TID alone (what the model is trained on is what the trie holds);
3. every sequence the constrained beams return spells a real item's TID (compared the way
   grounding compares: NFC, lowercase, parser-trimmed), and evaluate's records rank real items;
4. the loader refuses words the compat parser could not read back (a delimiter, control
   character, nothing left after trimming), naming the file, the item and the word, exit 1.

Usage: check_tid_words.py GRLM MPIEXEC SCRATCH
"""
import json
import os
import random
import re
import shutil
import subprocess
import sys
import unicodedata

from tokenizers import Tokenizer

GRLM, MPIEXEC, ROOT = sys.argv[1:4]
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", OMP_NUM_THREADS="1")
TRAIN = {"arch": {"hidden_size": 32, "layers": 1, "heads": 2, "kv_heads": 1, "intermediate_size": 64, "head_dim": 16},
         "global_batch_size": 8, "micro_batch_size": 4, "max_steps": 6, "lr": 1e-2, "log_steps": 100, "dtype": "float32"}
EVALUATE = {"dtype": "float32", "num_beams": 4, "num_return_sequences": 4, "max_new_tokens": 14, "chunk_users": 16, "batch_size": 4,
            "constrained": True, "exclude_seen": True}

PIECES = [
    ["hair", "mask", "oil", "serum", "Lip", "UPPER", "scale", "oz", "ml", "ratio", "gloss"],
    ["1", "53", "5.3", "100", "4.2", "2024", "0"],
    [":", ".", "-", "/", "'", "%", "+", "&", "#", "_", "~"],
    ["é", "ß", "Äpfel", "ñ", "çà", "Ωmega", "ı", "İstanbul", "e\u0301"],
    ["中文", "日本語", "한국어", "Россия", "ελληνικά", "עברית", "हिन्दी"],
    ["💄", "👩\u200d🦰", "✨", "🧴", "❤\ufe0f", "🇫🇷"],
]
STRIPPED = "\"'`[](){}<>*.;:!?"


def canonical(word):
    """The compat parser's reading of a word (as grlm's canonical_tid_word)."""
    text = unicodedata.normalize("NFC", word).lower().strip(" \t\n\r\f\v")
    while text and text[0] in STRIPPED:
        text = text[1:].strip(" \t\n\r\f\v")
    while text and text[-1] in STRIPPED:
        text = text[:-1].strip(" \t\n\r\f\v")
    return re.sub(r"[ \t\n\r\f\v]+", "-", text)


def random_word(rng):
    word = ""
    for i in range(rng.randint(1, 4)):
        if i and rng.random() < 0.1:
            word += " "
        word += rng.choice(rng.choice(PIECES))
    if rng.random() < 0.1:
        word += "."
    return word if canonical(word) else "w" + word + "w"


def run(ranks, *args, ok=True):
    command = [MPIEXEC, "-np", str(ranks), "--oversubscribe", "--bind-to", "none", GRLM, *args]
    result = subprocess.run(command, capture_output=True, text=True, env=ENV)
    if ok and result.returncode != 0:
        raise AssertionError(f"{' '.join(command)} failed ({result.returncode}):\n{result.stderr[-4000:]}")
    return result


def grlm_tokenize(tokenizer_file, texts):
    result = subprocess.run([GRLM, "tokenize", "--tokenizer", tokenizer_file], input="".join(
        json.dumps(text) + "\n" for text in texts), capture_output=True, text=True, env=ENV, check=True)
    return [json.loads(line) for line in result.stdout.splitlines()]


def tid_text(words):
    return "[" + ", ".join(words) + "]"


shutil.rmtree(ROOT, ignore_errors=True)
os.makedirs(ROOT)
SUMMARY = []
for seed in (1, 2):
    rng = random.Random(seed)
    data = f"{ROOT}/data{seed}"
    subprocess.run([GRLM, "synth", "--items", "60", "--users", "50", "--seed", str(seed), "--out", data], check=True,
                   capture_output=True, env=ENV)
    with open(f"{data}/synthetic_item_id2tid.json") as handle:
        items = list(json.load(handle))
    tids = {item: [random_word(rng) for _ in range(5)] for item in items}
    with open(f"{data}/tids.json", "w") as handle:
        json.dump(tids, handle, ensure_ascii=False)
    name = f"run{seed}"
    with open(f"{ROOT}/{name}.json", "w") as handle:
        json.dump({"run_dir": f"{ROOT}/{name}", "data": {"catalog": f"{data}/catalog.json",
                   "interactions": f"{data}/interactions.txt", "tids": f"{data}/tids.json"},
                   "train": TRAIN, "evaluate": EVALUATE}, handle)
    run(2, "run", "--config", f"{ROOT}/{name}.json")

    # 1-2. the vocabulary: HF tokenizers == grlm, one token per word, TID tokens inside the item line.
    tokenizer_file = f"{ROOT}/{name}/sft/tokenizer.json"
    oracle = Tokenizer.from_file(tokenizer_file)
    unknown = oracle.token_to_id("<unk>")
    texts = [" " + tid_text(words) for words in tids.values()]
    lines = [f"Item text ID: {tid_text(words)} Title: None.\n" for words in tids.values()]
    mine = grlm_tokenize(tokenizer_file, texts + lines)
    for text, ids in zip(texts + lines, mine):
        assert oracle.encode(text, add_special_tokens=False).ids == ids, f"grlm and tokenizers differ on {text!r}"
    for text, ids, line_ids in zip(texts, mine[:len(texts)], mine[len(texts):]):
        assert len(ids) == 11 and unknown not in ids, f"a word of {text!r} is not one token: {ids}"
        assert any(line_ids[i:i + 11] == ids for i in range(len(line_ids))), f"{text!r} tokenized differently in its line"
    split = sum(1 for words in tids.values() for w in words if any(c in w for c in " :"))

    # 3. constrained beams spell real TIDs, compared as grounding compares.
    real = {tuple(canonical(w) for w in words) for words in tids.values()}
    with open(f"{ROOT}/{name}/evaluate/records.jsonl") as handle:
        records = [json.loads(line) for line in handle]
    assert records, "no evaluation records"
    sequences = 0
    for record in records:
        assert set(record["ranked_item_ids"]) <= set(items) and record["ranked_item_ids"], record
        for text in record["generated"]:
            inside = text[text.index("[") + 1:text.rindex("]")]
            words = tuple(canonical(w) for w in inside.split(","))
            assert words in real, f"a constrained beam spelled no item's TID: {text!r}"
            sequences += 1
    SUMMARY.append(f"seed {seed}: {len(tids)} TIDs ({split} words holding ':' or a space), tokenizer == HF on "
                   f"{len(texts) + len(lines)} texts, {sequences} constrained sequences all real TIDs")

# 4. what the loader refuses, and how.
data = f"{ROOT}/data1"
with open(f"{data}/tids.json") as handle:
    good = json.load(handle)
first = next(iter(good))
for bad in ["", "   ", ",", "]", "a,b", "x[y", "...", "a\u0001b", "tab\there"]:
    with open(f"{data}/bad.json", "w") as handle:
        json.dump(dict(good, **{first: ["ok", bad, "ok", "ok", "ok"]}), handle)
    with open(f"{ROOT}/bad.json", "w") as handle:
        json.dump({"run_dir": f"{ROOT}/bad", "data": {"catalog": f"{data}/catalog.json",
                   "interactions": f"{data}/interactions.txt", "tids": f"{data}/bad.json"}}, handle)
    result = run(2, "run", "--config", f"{ROOT}/bad.json", ok=False)
    assert result.returncode == 1, f"{bad!r}: exit {result.returncode}, want 1\n{result.stderr[-2000:]}"
    assert f"{data}/bad.json" in result.stderr and f'item "{first}"' in result.stderr and "word 2" in result.stderr, \
        f"{bad!r}: the error does not name file, item and word:\n{result.stderr[-2000:]}"
SUMMARY.append("loader: 9 malformed words refused with file, item and word, exit 1 on 2 ranks")
print("\n".join(SUMMARY))
print("check_tid_words: all checks passed")
