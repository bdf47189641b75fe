"""Two finished runs' outputs compared byte for byte: the refactoring check of issue 24.

Every dataset of both run stores (values and shapes; the train checkpoints included, the curve's
timings aside), the stage records without their timings, the JSON exports (extract, similar, sft), the SFT tokenizer and
neighbours, evaluate's records, the exported model's files and metrics.json (its "model" path
aside). Prints what differs and exits 1, or "same outputs".

Usage: compare_runs.py RUN_A RUN_B
"""
import filecmp
import json
import os
import sys

import h5py
import numpy as np

a_dir, b_dir = sys.argv[1:3]
problems = []


def datasets(store):
    found = {}
    store.visititems(lambda name, obj: found.__setitem__(name, obj) if isinstance(obj, h5py.Dataset) else None)
    return found


TIMING_KEYS = {"seconds", "started_at", "completed_at", "updated_at", "elapsed_s", "wall_seconds", "checksums", "tokens_per_s",
               "mfu", "samples_per_s"}


def without_timings(value):
    if isinstance(value, dict):
        return {k: without_timings(v) for k, v in value.items() if k not in TIMING_KEYS and not k.endswith("_s")}
    if isinstance(value, list):
        return [without_timings(v) for v in value]
    return value


with h5py.File(f"{a_dir}/grlm.h5", "r") as a, h5py.File(f"{b_dir}/grlm.h5", "r") as b:
    da, db = datasets(a), datasets(b)
    for name in sorted(set(da) | set(db)):
        if name not in da or name not in db:
            problems.append(f"store: {name} only in {'the first' if name in da else 'the second'}")
            continue
        x, y = da[name][()], db[name][()]
        if name.endswith("/curve"):  # the training curve: its timings differ from run to run
            x, y = ([without_timings(json.loads(v)) for v in values] for values in (x, y))
        if np.shape(x) != np.shape(y) or not np.array_equal(x, y):
            problems.append(f"store: {name} differs")
    for stage in sorted(set(a) | set(b)):
        if stage in ("run", "_damaged") or stage not in a or stage not in b:
            continue
        for attribute in ("status", "stage_hash", "record"):
            x, y = a[stage].attrs.get(attribute), b[stage].attrs.get(attribute)
            if attribute == "record" and x is not None and y is not None:
                x, y = without_timings(json.loads(x)), without_timings(json.loads(y))
            if x != y:
                problems.append(f"store: /{stage} attribute {attribute} differs")

files = []
for folder in ("extract", "similar", "sft", "evaluate", "model"):
    for root, _, names in os.walk(f"{a_dir}/{folder}"):
        for name in names:
            if "chunks" not in root:
                files.append(os.path.relpath(os.path.join(root, name), a_dir))
for name in sorted(files):
    if not os.path.exists(f"{b_dir}/{name}"):
        problems.append(f"{name} missing from the second run")
    elif not filecmp.cmp(f"{a_dir}/{name}", f"{b_dir}/{name}", shallow=False):
        problems.append(f"{name} differs")
with open(f"{a_dir}/metrics.json") as x, open(f"{b_dir}/metrics.json") as y:
    ma, mb = json.load(x), json.load(y)
ma.pop("model", None), mb.pop("model", None)
if ma != mb:
    problems.append(f"metrics.json differs: {ma} != {mb}")
if problems:
    print("\n".join(problems))
    sys.exit(1)
print(f"same outputs: {len(da)} store datasets, {len(files)} files and metrics.json")
