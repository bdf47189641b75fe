"""Tests of `grlm train` (ZeRO-1/2 over MPI on CPU ranks) against PyTorch and against itself.

1. from scratch (float32, np 2): the loss falls on the synthetic data (a learnable task), the curve
   files and the exported model exist, transformers loads the export and its log-probs equal
   `grlm score`'s on the same tokens;
2. oracle: from an `init-model` checkpoint in float64, grlm's weights after 6 steps (clipping,
   weight decay, warmup + cosine, accumulation) equal a PyTorch loop (transformers' Qwen3,
   torch.optim.AdamW, clip_grad_norm_, get_cosine_schedule_with_warmup) on the same batches, and so
   do the per-step losses;
3. ZeRO-2 at np 2 for 20 steps equals np 1 with the same global batch (float64, <= 1e-9); ZeRO-1
   likewise; gradient accumulation 4 x 2 equals one micro-batch of 8; activation checkpointing
   changes nothing; each rank holds about 1/N of the optimizer state;
4. resume: stopped after 10 steps (train.stop_after_steps, exit 75) and rerun equals the
   uninterrupted run, at the same world size and re-sharded from np 2 to np 1; SIGTERM to the ranks
   (what Slurm sends) checkpoints, and the rerun again equals the uninterrupted run;
5. NaN/inf: with an absurd learning rate the steps are skipped with a warning and the run stops
   after train.max_bad_steps in a row, non-zero on every rank, keeping the last good checkpoint;
6. validation loss every N steps; bfloat16 trains at np 2 (16-bit gradients summed in fp32 over MPI);
   scripts/plot_train.py draws the curve.

Usage: check_train.py GRLM MPIEXEC SCRATCH
"""
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import torch
from safetensors.numpy import load_file

GRLM, MPIEXEC, ROOT = sys.argv[1:4]
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", OMP_NUM_THREADS="1")
SUMMARY = []
ARCH = {"hidden_size": 32, "layers": 2, "heads": 4, "kv_heads": 2, "intermediate_size": 48, "head_dim": 8}


def run(ranks, *args, ok=True, cwd=None):
    command = [MPIEXEC, "-np", str(ranks), "--oversubscribe", "--bind-to", "none", GRLM, *args]
    result = subprocess.run(command, capture_output=True, text=True, env=ENV, cwd=cwd)
    if ok and result.returncode != 0:
        raise AssertionError(f"{' '.join(command)} failed ({result.returncode}):\n{result.stderr[-4000:]}")
    return result


def write_config(path, run_dir, train):
    # The same data options as the base run, so its completed stages are reused. float32 unless a
    # check says otherwise: "auto" would be bfloat16 on some CPUs and float32 on others.
    train = {"dtype": "float32", **train}
    config = {"run_dir": run_dir, "data": {"catalog": f"{ROOT}/data/catalog.json",
                                           "interactions": f"{ROOT}/data/interactions.txt"},
              "sft": {"max_seq_len": 160}, "train": train}
    with open(path, "w") as handle:
        json.dump(config, handle)
    return path


def prepared_run(name):
    """A run folder whose stages up to build-sft are complete (copied from the base run)."""
    target = f"{ROOT}/{name}"
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(f"{ROOT}/base", target)
    return target


def train(name, ranks, options, ok=True):
    run_dir = prepared_run(name)
    config = write_config(f"{ROOT}/{name}.json", run_dir, options)
    result = run(ranks, "run", "--config", config, "--until", "train", ok=ok)
    assert "stage build-sft: starting" not in result.stderr, "the copied run should reuse build-sft"
    return run_dir, config, result


def weights(run_dir):
    return load_file(f"{run_dir}/model/model.safetensors")


def max_diff(a, b):
    assert a.keys() == b.keys(), f"tensor names differ: {sorted(a.keys() ^ b.keys())}"
    return max(float(np.abs(a[k].astype(np.float64) - b[k].astype(np.float64)).max()) for k in a)


def summary(run_dir):
    with h5py.File(f"{run_dir}/grlm.h5", "r") as store:
        return json.loads(store["train"].attrs["summary"])


def curve(run_dir):
    with open(f"{run_dir}/train/curve.json") as handle:
        return json.load(handle)


# ---------------------------------------------------------------- data
shutil.rmtree(ROOT, ignore_errors=True)
os.makedirs(ROOT)
subprocess.run([GRLM, "synth", "--items", "60", "--users", "90", "--seed", "3", "--out", f"{ROOT}/data"],
               check=True, capture_output=True, env=ENV)
base_config = write_config(f"{ROOT}/base.json", f"{ROOT}/base", {})
run(1, "run", "--config", base_config, "--until", "build-sft")
with h5py.File(f"{ROOT}/base/grlm.h5", "r") as store:
    TOKENS = store["build-sft/token_ids"][:].astype(np.int64)
    MASK = store["build-sft/loss_mask"][:]
    OFFSETS = store["build-sft/sample_offsets"][:]
SAMPLES = len(OFFSETS) - 1
print(f"data: {SAMPLES} samples, {len(TOKENS)} tokens")

# ---------------------------------------------------------------- 1. from scratch, loss falls, export
scratch, _, result = train("scratch", 2, {"arch": ARCH, "global_batch_size": 16, "micro_batch_size": 4,
                                          "max_steps": 40, "lr": 5e-3, "warmup_ratio": 0.1, "log_steps": 10})
points = curve(scratch)
first, last = np.mean([p["loss"] for p in points[:3]]), np.mean([p["loss"] for p in points[-3:]])
assert last < 0.75 * first, f"loss did not fall: {first} -> {last}"
assert os.path.exists(f"{scratch}/train/curve.csv") and "tokens/s" in result.stderr
SUMMARY.append(f"from scratch np 2: loss {first:.3f} -> {last:.3f} in 40 steps")

from transformers import AutoModelForCausalLM  # noqa: E402

exported = AutoModelForCausalLM.from_pretrained(f"{scratch}/model", dtype=torch.float32).eval()
probe = [TOKENS[OFFSETS[i]:OFFSETS[i + 1]].tolist() for i in (0, 1)]
with open(f"{ROOT}/probe.jsonl", "w") as handle:
    for ids in probe:
        handle.write(json.dumps({"ids": ids}) + "\n")
run(1, "score", "--model", f"{scratch}/model", "--input", f"{ROOT}/probe.jsonl", "--output", f"{ROOT}/probe.out.jsonl")
with open(f"{ROOT}/probe.out.jsonl") as handle:
    scored = [json.loads(line) for line in handle]
worst = 0.0
for ids, row in zip(probe, scored):
    with torch.no_grad():
        logits = exported(torch.tensor([ids])).logits[0].double()
    reference = torch.log_softmax(logits, -1)[torch.arange(len(ids) - 1), torch.tensor(ids[1:])]
    worst = max(worst, float((reference - torch.tensor(row["logprobs"], dtype=torch.float64)).abs().max()))
assert worst < 1e-4, f"exported model: transformers and grlm score differ by {worst}"
SUMMARY.append(f"export loads in transformers; log-probs equal grlm score's (max diff {worst:.1e})")

# ---------------------------------------------------------------- 2. PyTorch oracle, float64
with open(f"{scratch}/model/config.json") as handle:
    model_config = json.load(handle)
model_config["tie_word_embeddings"] = False
os.makedirs(f"{ROOT}/init-config", exist_ok=True)
with open(f"{ROOT}/init-config/config.json", "w") as handle:
    json.dump(model_config, handle)
run(1, "init-model", "--config", f"{ROOT}/init-config", "--out", f"{ROOT}/init", "--seed", "7")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_order import batch_of as sample_batch  # noqa: E402  (the trainer's sample order)


def batch_of(step, global_batch, seed):
    return sample_batch(step, SAMPLES, global_batch, seed)


def oracle_train(steps, global_batch, lr, warmup_ratio, weight_decay, clip, seed, snapshot_step=None):
    from transformers import get_cosine_schedule_with_warmup
    model = AutoModelForCausalLM.from_pretrained(f"{ROOT}/init", dtype=torch.float64)
    model.train()
    decay = [p for n, p in model.named_parameters() if "norm" not in n and not n.endswith(".bias")]
    no_decay = [p for n, p in model.named_parameters() if "norm" in n or n.endswith(".bias")]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}],
                                  lr=lr, betas=(0.9, 0.95), eps=1e-8, foreach=False)
    schedule = get_cosine_schedule_with_warmup(optimizer, math.ceil(warmup_ratio * steps), steps)
    losses = []
    for step in range(steps):
        samples = batch_of(step, global_batch, seed)
        longest = max(OFFSETS[i + 1] - OFFSETS[i] for i in samples)
        ids = torch.zeros(len(samples), longest, dtype=torch.long)
        attention = torch.zeros(len(samples), longest, dtype=torch.long)
        labels = torch.full((len(samples), longest), -100, dtype=torch.long)
        for row, i in enumerate(samples):
            tokens, mask = TOKENS[OFFSETS[i]:OFFSETS[i + 1]], MASK[OFFSETS[i]:OFFSETS[i + 1]]
            ids[row, :len(tokens)] = torch.from_numpy(tokens)
            attention[row, :len(tokens)] = 1
            for t in range(len(tokens) - 1):
                if mask[t + 1]:
                    labels[row, t] = int(tokens[t + 1])
        logits = model(input_ids=ids, attention_mask=attention).logits
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.size(-1)), labels.reshape(-1),
                                                 ignore_index=-100, reduction="sum") / (labels != -100).sum()
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimizer.step()
        schedule.step()
        losses.append(float(loss.detach()))
        if step + 1 == snapshot_step:
            SNAPSHOT.update({k: v.detach().numpy().copy() for k, v in model.state_dict().items()})
    return {k: v.detach().numpy() for k, v in model.state_dict().items()}, losses


SNAPSHOT = {}


EXACT = {"model": f"{ROOT}/init", "dtype": "float64", "global_batch_size": 8, "seed": 11, "lr": 2e-2,
         "warmup_ratio": 0.2, "weight_decay": 0.1, "max_grad_norm": 0.5, "log_steps": 100}
oracle_dir, _, _ = train("oracle", 1, dict(EXACT, micro_batch_size=4, max_steps=6, export_steps=3))
reference, reference_losses = oracle_train(6, 8, 2e-2, 0.2, 0.1, 0.5, 11, snapshot_step=3)
got = weights(oracle_dir)
# train.export_steps: the model of step 3 exported on the way (the end is the usual export).
assert sorted(os.listdir(f"{oracle_dir}/train/exports")) == ["step-3"], os.listdir(f"{oracle_dir}/train/exports")
midway = load_file(f"{oracle_dir}/train/exports/step-3/model.safetensors")
midway_difference = max_diff(midway, {k: SNAPSHOT[k] for k in midway})
assert midway_difference <= 1e-9, f"export of step 3 vs PyTorch after 3 steps: {midway_difference}"
assert max_diff(midway, got) > 1e-6, "the step-3 export should differ from the final model"
difference = max_diff(got, {k: reference[k] for k in got})
loss_difference = max(abs(a - p["loss"]) for a, p in zip(reference_losses, curve(oracle_dir)))
assert difference <= 1e-9, f"grlm train vs PyTorch: weights differ by {difference}"
assert loss_difference <= 1e-9, f"grlm train vs PyTorch: losses differ by {loss_difference}"
assert any(p["grad_norm"] > 0.5 for p in curve(oracle_dir)), "clipping never active: the test would not check it"
SUMMARY.append(f"float64 vs PyTorch AdamW loop, 6 steps: weights max diff {difference:.1e}, losses {loss_difference:.1e}")
SUMMARY.append(f"train.export_steps=3: the step-3 export equals PyTorch after 3 steps (max diff {midway_difference:.1e})")

# ---------------------------------------------------------------- 3. world size, ZeRO stage, accumulation
# Runs that differ only in how the same sums are ordered (ranks, ZeRO stage, micro-batches, buckets,
# recomputation) agree to float64 rounding at first, and then their last-bit differences grow: Adam
# divides by sqrt(v), which is tiny for rarely seen embedding rows. How fast depends on the CPU's
# kernels: 20 steps end within 1e-12 with AVX-512 kernels and 1.8e-8 apart with
# ATEN_CPU_CAPABILITY=default (whose matrix products order their sums by the batch shape). So the
# checks are: (a) the first 3 steps' loss and gradient norm equal to 1e-10 relative (before any
# growth; a wrong reduction, shard or scale shows here at once, even one Adam would absorb), and
# (b) the weights after 20 steps within 1e-6: 50x the largest rounding growth seen, and 3,000x
# below one step of lr 3e-3, the smallest change a wrong update makes.
TWENTY = dict(EXACT, max_steps=20, save_steps=5, lr=3e-3)


def same_training(a, b, what):
    early = [(p["loss"], q["loss"], p["grad_norm"], q["grad_norm"]) for p, q in zip(curve(a)[:3], curve(b)[:3])]
    assert len(early) == 3 and all(abs(x - y) <= 1e-10 * abs(x) for pair in early for x, y in (pair[:2], pair[2:])), \
        f"{what}: the first steps' losses or gradient norms differ: {early}"
    difference = max_diff(weights(a), weights(b))
    assert difference <= 1e-6, f"{what}: weights after 20 steps differ by {difference}"
    return difference


one, _, _ = train("z2-np1", 1, dict(TWENTY, zero_stage=2, micro_batch_size=4))
two, _, _ = train("z2-np2", 2, dict(TWENTY, zero_stage=2, micro_batch_size=4))
d2 = same_training(one, two, "ZeRO-2 np 2 vs np 1")
z1, _, _ = train("z1-np2", 2, dict(TWENTY, zero_stage=1, micro_batch_size=4, bucket_mb=0.002))
d1 = same_training(one, z1, "ZeRO-1 np 2 vs np 1")
accumulated, _, _ = train("accum", 1, dict(TWENTY, micro_batch_size=2))
whole, _, _ = train("whole", 1, dict(TWENTY, micro_batch_size=8))
da = same_training(accumulated, whole, "accumulation 4 x 2 vs 8")
recomputed, _, _ = train("recompute", 2, dict(TWENTY, micro_batch_size=4, activation_checkpointing=True, bucket_mb=0.001))
dr = same_training(two, recomputed, "activation checkpointing")
s1, s2 = summary(one), summary(two)
ratio = s2["optimizer_elements_per_rank"] / s1["optimizer_elements_per_rank"]
assert 0.5 <= ratio <= 0.52, f"optimizer state per rank at np 2 is {ratio:.3f} of np 1's"
SUMMARY.append(f"20 steps float64: ZeRO-2 np2 vs np1 {d2:.1e}, ZeRO-1 np2 vs np1 {d1:.1e}, "
               f"accumulation 4x2 vs 8 {da:.1e}, activation checkpointing {dr:.1e}; state per rank at np 2 = {ratio:.3f} x np 1")

# ---------------------------------------------------------------- 4. resume
paused_dir, paused_config, result = train("paused", 2, dict(TWENTY, micro_batch_size=4, stop_after_steps=10), ok=False)
assert result.returncode == 75, f"stop_after_steps: exit {result.returncode}\n{result.stderr[-2000:]}"
with h5py.File(f"{paused_dir}/grlm.h5", "r") as store:
    assert int(store["train/latest"][1]) == 10
run(2, "run", "--config", paused_config, "--until", "train")
dp = max_diff(weights(two), weights(paused_dir))
assert dp == 0.0, f"resumed run differs from the uninterrupted one by {dp}"
assert [p["loss"] for p in curve(paused_dir)] == [p["loss"] for p in curve(two)], "resumed loss curve differs"

reshard_dir, reshard_config, result = train("reshard", 2, dict(TWENTY, micro_batch_size=2, stop_after_steps=10), ok=False)
assert result.returncode == 75
run(1, "run", "--config", reshard_config, "--until", "train")
resharded = run(1, "inspect", reshard_dir).stdout
dz = same_training(one, reshard_dir, "np 2 -> np 1 re-sharded resume")  # the same micro-batches summed in another order
SUMMARY.append(f"resume after 10 of 20 steps: identical (diff {dp}); np 2 -> np 1 re-sharded: {dz:.1e}")

# SIGTERM to the ranks, as Slurm sends before a time limit or preemption.
LONG = dict(EXACT, max_steps=150, micro_batch_size=4, save_steps=1000, log_steps=1)
long_dir, _, _ = train("long", 2, LONG)
term_dir = prepared_run("term")
term_config = write_config(f"{ROOT}/term.json", term_dir, LONG)
process = subprocess.Popen([MPIEXEC, "-np", "2", "--oversubscribe", "--bind-to", "none", GRLM, "run", "--config",
                            term_config, "--until", "train"], stderr=subprocess.PIPE, text=True, env=ENV)
seen = ""
while "step 5/" not in seen:
    line = process.stderr.readline()
    assert line, f"the run ended before step 5:\n{seen[-2000:]}"
    seen += line
ranks = subprocess.run(["pgrep", "-P", str(process.pid)], capture_output=True, text=True).stdout.split()
for pid in ranks:
    os.kill(int(pid), signal.SIGTERM)
rest, _ = process.communicate(timeout=300)
assert process.returncode != 0, "SIGTERM: the run should stop"
with h5py.File(f"{term_dir}/grlm.h5", "r") as store:
    stopped_at = int(store["train/latest"][1])
assert 5 <= stopped_at < 150, f"SIGTERM checkpoint at step {stopped_at}"
run(2, "run", "--config", term_config, "--until", "train")
dt = max_diff(weights(long_dir), weights(term_dir))
assert dt == 0.0, f"resumed after SIGTERM: differs by {dt}"
SUMMARY.append(f"SIGTERM at step {stopped_at} of 150: checkpointed, resumed run identical")

# ---------------------------------------------------------------- 5. NaN / inf
nan_dir, _, result = train("nan", 2, {"arch": ARCH, "global_batch_size": 8, "micro_batch_size": 4, "max_steps": 20,
                                      "lr": 1e30, "warmup_ratio": 0, "max_grad_norm": 0, "save_steps": 1,
                                      "max_bad_steps": 3}, ok=False)
assert result.returncode != 0, "NaN run should fail"
assert "max_bad_steps" in result.stderr and "skipped" in result.stderr, result.stderr[-2000:]
with h5py.File(f"{nan_dir}/grlm.h5", "r") as store:
    kept = int(store["train/latest"][1])
    state = json.loads(store[f"train/checkpoint_{int(store['train/latest'][0])}/state"][0])
assert state["bad_in_row"] == 0 and kept >= 1, f"kept checkpoint {kept}: {state}"
SUMMARY.append(f"lr 1e30: non-finite steps skipped, stopped after 3 in a row (exit {result.returncode}), checkpoint of step {kept} kept")

# ---------------------------------------------------------------- 6. validation loss, bfloat16
val_dir, _, _ = train("val", 2, {"arch": ARCH, "global_batch_size": 8, "micro_batch_size": 2, "max_steps": 12,
                                 "lr": 5e-3, "val_fraction": 0.1, "eval_steps": 4, "dtype": "bfloat16"})
validation = [p["val_loss"] for p in curve(val_dir) if p["val_loss"] is not None]
assert len(validation) == 3 and all(math.isfinite(v) for v in validation), validation
assert validation[-1] < validation[0], f"validation loss did not fall: {validation}"
assert summary(val_dir)["validation_samples"] == round(0.1 * SAMPLES)
subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__), "../../scripts/plot_train.py"), val_dir], check=True,
               capture_output=True)
assert os.path.getsize(f"{val_dir}/train/curve.png") > 1000
SUMMARY.append(f"bfloat16 np 2 with validation every 4 steps: {validation[0]:.3f} -> {validation[-1]:.3f}; curve.png drawn")

print("\n".join(SUMMARY))
