"""Test oracle input: a deterministic corpus of >= 20,000 strings for tokenizer parity tests.

Real catalog text and Term IDs from ../shared/data/beauty, GRLM prompt texts built from them,
and adversarial Unicode. Writes one JSON string per line. Python is only a test oracle here.
"""
import argparse
import json
import random
import unicodedata


def catalog_strings(catalog):
    out = []
    for item in catalog.values():
        for field in ("title", "description", "categories"):
            text = item.get(field)
            if not text:
                continue
            out.append(text)
            out.append(text[:150] + "...")
            out.extend(s.strip() for s in text.split(".") if s.strip())
    return out


def tid_strings(tids):
    out = []
    for item_id, words in tids.items():
        out.append("[" + ", ".join(words) + "]")
        out.append(f"Item text ID: [{', '.join(words)}] Title: None.\n")
    return out


def prompt_strings(interactions, tids, catalog, count):
    out = []
    instruction = ("Below is a user's purchase history, each item written as its text ID and title. "
                   "Predict the next item the user will buy.\n")
    for line in interactions[:count]:
        user, *items = line.split()
        lines = []
        for item in items[-20:]:
            words = tids.get(item, ["none"] * 5)
            title = catalog.get(item, {}).get("title")
            lines.append(f"Item text ID: [{', '.join(words)}] Title: {title}.\n")
        out.append(instruction + "".join(lines[:-2]))
        out.append("<|im_start|>user\n" + instruction + lines[0] + "<|im_end|>\n<|im_start|>assistant\n"
                   + "".join(lines[1:-2]) + "<|im_end|>")
    return out


def adversarial_strings(rng, count):
    pools = {
        "latin": [chr(c) for c in range(0x20, 0x7F)],
        "latin1": [chr(c) for c in range(0xA0, 0x180)],
        "combining": [chr(c) for c in range(0x300, 0x370)],
        "greek_cyrillic": [chr(c) for c in list(range(0x391, 0x3CA)) + list(range(0x410, 0x450))],
        "cjk": [chr(c) for c in list(range(0x4E00, 0x4E80)) + list(range(0x3040, 0x30FF)) + list(range(0xAC00, 0xAC40))],
        "rtl": [chr(c) for c in list(range(0x5D0, 0x5EB)) + list(range(0x620, 0x64B)) + [0x200F, 0x200E, 0x202B, 0x202C]],
        "fullwidth": [chr(c) for c in range(0xFF01, 0xFF5F)],
        "emoji": ["😀", "👍🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "❤️", "🇫🇷", "🧑🏿‍🚀", "✈︎", "1️⃣", "🫠"],
        "space": [" ", "  ", "\t", "\n", "\r\n", "\r", "\x0b", "\x0c", "\x85", "\xa0", "\u2028", "\u2029",
                  "\u3000", "\u200b", "\ufeff", "\u180e", "\u2009"],
        "control": [chr(c) for c in list(range(0x00, 0x09)) + list(range(0x0E, 0x20)) + [0x7F]],
        "digits": [chr(c) for c in list(range(0x30, 0x3A)) + list(range(0x660, 0x66A)) + list(range(0xFF10, 0xFF1A))
                   + [0xB2, 0xB3, 0xBD, 0x2163]],
        "punct": list("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~") + ["’", "“", "”", "…", "—", "«", "»", "¿", "¡"],
        "special": ["<|im_start|>", "<|im_end|>", "<|endoftext|>", "<think>", "</think>", "<tool_call>",
                    "<|im_start", "im_end|>", "<|vision_pad|>"],
        "contractions": ["'s", "'T", "'re", "'VE", "'m", "'ll", "'D", "n't", "'S"],
    }
    names = sorted(pools)
    out = []
    for _ in range(count):
        parts = []
        for _ in range(rng.randint(1, 24)):
            pool = pools[rng.choice(names)]
            parts.append("".join(rng.choice(pool) for _ in range(rng.randint(1, 6))))
        out.append("".join(parts))
    # Input that NFC changes, and each normalization form of real text.
    base = ["e\u0301", "A\u030a", "\u212b", "\u1100\u1161\u11a8", "ﬁ", "Ａｂｃ", "x\u0308\u0301", "\u0958", "ǅ", "İstanbul"]
    for text in base:
        for form in ("NFC", "NFD", "NFKC", "NFKD"):
            out.append(unicodedata.normalize(form, text + " caf\u00e9 cafe\u0301"))
    # Very long words and runs.
    out.append("a" * 10000)
    out.append("".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(10000)))
    out.append("9" * 5000)
    out.append(" " * 3000 + "x")
    out.append("\n" * 2000)
    out.append("ab" * 5000)
    out.append("😀" * 2000)
    out.append("超" * 4000)
    out.append("")
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True, help="../shared/data/beauty")
    parser.add_argument("--out", required=True)
    parser.add_argument("--natural-only", action="store_true", help="leave out the adversarial strings")
    args = parser.parse_args()
    rng = random.Random(20261126)
    catalog = json.load(open(f"{args.data}/beauty.item.head.json", encoding="utf-8"))
    tids = json.load(open(f"{args.data}/beauty_item_id2tid.json", encoding="utf-8"))
    interactions = open(f"{args.data}/sequential_data.txt", encoding="utf-8").read().splitlines()
    corpus = catalog_strings(catalog) + tid_strings(tids) + prompt_strings(interactions, tids, catalog, 300)
    if not args.natural_only:
        corpus += adversarial_strings(rng, 4000)
    with open(args.out, "w", encoding="utf-8") as out:
        for text in corpus:
            out.write(json.dumps(text, ensure_ascii=False) + "\n")
    print(f"{len(corpus)} strings")


if __name__ == "__main__":
    main()
