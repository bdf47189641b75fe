"""PyTorch eager baseline of bench/bench_train.sh: the same model (loaded from the same init
checkpoint), the same global batches in the same order (src/train/plan.cpp's permutation and
length grouping), the same micro-batches, loss, clipping, AdamW and schedule, in fp32 on the CPU.
It computes the logits of every position as transformers users do; the loss is the same.
Prints JSON: mean step seconds (steps after the first two) and the losses."""
import json
import math
import os
import sys
import time

import h5py
import numpy as np
import torch
from transformers import AutoModelForCausalLM, get_cosine_schedule_with_warmup

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "oracle"))
from train_order import batch_of  # noqa: E402  (the trainer's sample order)

init, run_dir, threads, global_batch, micro_batch, steps, lr = sys.argv[1:8]
threads, global_batch, micro_batch, steps, lr = int(threads), int(global_batch), int(micro_batch), int(steps), float(lr)
torch.set_num_threads(threads)
with h5py.File(f"{run_dir}/grlm.h5", "r") as store:
    tokens = store["build-sft/token_ids"][:].astype(np.int64)
    mask = store["build-sft/loss_mask"][:]
    offsets = store["build-sft/sample_offsets"][:]
samples = len(offsets) - 1


def batch(step, seed=42):
    chosen = batch_of(step, samples, global_batch, seed)
    return sorted(chosen, key=lambda i: -(offsets[i + 1] - offsets[i]))  # stable, longest first


def tensors(group):
    longest = max(offsets[i + 1] - offsets[i] for i in group)
    ids = torch.zeros(len(group), longest, dtype=torch.long)
    labels = torch.full((len(group), longest), -100, dtype=torch.long)
    for row, i in enumerate(group):
        t, m = tokens[offsets[i]:offsets[i + 1]], mask[offsets[i]:offsets[i + 1]]
        ids[row, :len(t)] = torch.from_numpy(t)
        shifted = np.where(m[1:] == 1, t[1:], -100)
        labels[row, :len(t) - 1] = torch.from_numpy(shifted)
    return ids, labels


model = AutoModelForCausalLM.from_pretrained(init, dtype=torch.float32)
model.train()
optimizer = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.0)
schedule = get_cosine_schedule_with_warmup(optimizer, math.ceil(0.1 * steps), steps)
seconds, losses = [], []
for step in range(steps):
    started = time.perf_counter()
    group = batch(step)
    count = sum(int((mask[offsets[i] + 1:offsets[i + 1]] == 1).sum()) for i in group)
    total = 0.0
    for first in range(0, len(group), micro_batch):
        ids, labels = tensors(group[first:first + micro_batch])
        logits = model(input_ids=ids).logits
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.size(-1)), labels.reshape(-1),
                                                 ignore_index=-100, reduction="sum") / count
        loss.backward()
        total += float(loss.detach())
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    schedule.step()
    optimizer.zero_grad()
    seconds.append(time.perf_counter() - started)
    losses.append(total)
print(json.dumps({"step_seconds": sum(seconds[2:]) / len(seconds[2:]), "losses": losses}))
