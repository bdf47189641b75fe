"""Anchor for bench/bench_extract.sh: the extraction prompts of a grlm run (rendered here from the
same template, item texts and similar items) through transformers' batched greedy generate with
the chat template (thinking off), batch size and max_new_tokens as grlm's; prints items/s.
Usage: bench_extract.py MODEL_DIR RUN_DIR CATALOG THREADS BATCH MAX_NEW
"""
import json
import sys
import time

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer


def cut(text, n=150):
    return text if len(text) <= n else text[:n] + "..."


def main():
    model_dir, run_dir, catalog_file, threads, batch, max_new = sys.argv[1:7]
    torch.set_num_threads(int(threads))
    start = time.perf_counter()
    catalog = json.load(open(catalog_file))
    similar = json.load(open(f"{run_dir}/similar/similar_items.json"))
    template = open("configs/prompts/extract.txt").read().rstrip("\n")
    prompts = []
    for item, neighbours in similar.items():
        entry = catalog[item]
        context = "".join(
            f"- [{n['item_id']}] (similarity {n['similarity']:.3f}) Title: {catalog[n['item_id']].get('title') or 'None'} "
            f"Description: {cut(catalog[n['item_id']].get('description') or '')}\n" for n in neighbours[:5])
        prompts.append(template.replace("{title}", entry.get("title") or "None")
                       .replace("{description}", cut(entry.get("description") or "")).replace("{context}", context))
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    tokenizer.padding_side = "left"
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    texts = [tokenizer.apply_chat_template([{"role": "user", "content": p}], tokenize=False, add_generation_prompt=True,
                                           enable_thinking=False) for p in prompts]
    order = sorted(range(len(texts)), key=lambda i: len(tokenizer(texts[i]).input_ids))
    b = int(batch)
    with torch.inference_mode():
        for s in range(0, len(order), b):
            chunk = [texts[i] for i in order[s:s + b]]
            inputs = tokenizer(chunk, return_tensors="pt", padding=True, add_special_tokens=False)
            model.generate(**inputs, max_new_tokens=int(max_new), do_sample=False)
    seconds = time.perf_counter() - start
    print(json.dumps({"items": len(prompts), "seconds": seconds, "items_per_s": len(prompts) / seconds}))


if __name__ == "__main__":
    main()
