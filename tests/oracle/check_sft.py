"""Test oracle for build-sft: reads the run store with h5py and the JSON files, and checks with
the Hugging Face stack that every tokenized sample decodes to its JSON text rendered with the
model's chat template, and that the loss mask covers exactly the output (and its end token).

Usage: check_sft.py RUN_DIR TOKENIZER_DIR   (prints "checked N samples" or raises)
"""
import json
import os
import sys

import h5py
import numpy as np
from tokenizers import Tokenizer
from transformers import PreTrainedTokenizerFast


def main():
    run_dir, tokenizer_dir = sys.argv[1], sys.argv[2]
    tokenizer = Tokenizer.from_file(os.path.join(tokenizer_dir, "tokenizer.json"))
    chat = PreTrainedTokenizerFast(tokenizer_file=os.path.join(tokenizer_dir, "tokenizer.json"))
    template = json.load(open(os.path.join(tokenizer_dir, "tokenizer_config.json")))["chat_template"]
    samples = []
    for task in ("term", "sequence", "collaborative", "transition"):
        path = os.path.join(run_dir, "sft", f"{task}.json")
        if os.path.exists(path):
            samples += json.load(open(path, encoding="utf-8"))
    with h5py.File(os.path.join(run_dir, "grlm.h5"), "r") as store:
        ids = store["/build-sft/token_ids"][:]
        mask = store["/build-sft/loss_mask"][:]
        offsets = store["/build-sft/sample_offsets"][:]
    assert len(offsets) == len(samples) + 1, (len(offsets), len(samples))
    for i, sample in enumerate(samples):
        begin, end = offsets[i], offsets[i + 1]
        user = sample["instruction"] + ("\n" + sample["input"] if sample["input"] else "")
        prompt = chat.apply_chat_template([{"role": "user", "content": user}], chat_template=template, tokenize=False,
                                          add_generation_prompt=True, enable_thinking=False)
        response = sample["output"] + "<|im_end|>\n"
        decoded = tokenizer.decode(ids[begin:end].tolist(), skip_special_tokens=False)
        assert decoded == prompt + response, f"sample {i}: {decoded[:200]!r} != {(prompt + response)[:200]!r}"
        trained = tokenizer.decode(ids[begin:end][mask[begin:end] == 1].tolist(), skip_special_tokens=False)
        assert trained == response, f"sample {i}: loss mask covers {trained[:200]!r}"
        assert np.all(np.diff(mask[begin:end].astype(int)) >= 0), f"sample {i}: mask is not prompt then response"
    print(f"checked {len(samples)} samples")


if __name__ == "__main__":
    main()
