"""Tests of `grlm evaluate` and `grlm run` end to end (tiny from-scratch model, CPU ranks).

1. grlm run on a small synth dataset (its TIDs given) runs every stage; metrics.json has the keys
   scripts rely on and equals the metrics recomputed from records.jsonl's hit ranks; the records
   rank 20 distinct items; np 2 gives the same metrics and records as np 1;
2. rerun: every stage skipped; a changed train option reruns only train and evaluate;
3. trie-constrained beams: every generated group is a real item's TID; with evaluate.exclude_seen
   (constrained and fuzzy) no user is recommended an item of their history;
4. the validation split targets each user's second-to-last item;
5. resume: chunks cleared in the store are evaluated again and the result equals the full run;
6. merged domains: metrics per domain, whose users add up to the whole;
7. transition prior (evaluate.transition_prior, test and validation splits): every item's beam
   score gains exactly w * log P(item | last item) / its length, P recounted here from the
   histories without the evaluated targets; a heavy weight orders the lists by the prior and puts
   a follower of the user's last item first.

Usage: check_evaluate.py GRLM MPIEXEC SCRATCH
"""
import json
import math
import os
import shutil
import subprocess
import sys

import h5py

GRLM, MPIEXEC, ROOT = sys.argv[1:4]
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", OMP_NUM_THREADS="1")
SUMMARY = []
TRAIN = {"arch": {"hidden_size": 32, "layers": 1, "heads": 2, "kv_heads": 1, "intermediate_size": 64, "head_dim": 16},
         "global_batch_size": 8, "micro_batch_size": 4, "max_steps": 150, "lr": 1e-2, "log_steps": 100, "dtype": "float32"}
EVALUATE = {"dtype": "float32", "num_beams": 4, "num_return_sequences": 4, "max_new_tokens": 14, "chunk_users": 7, "batch_size": 4}


def run(ranks, *args, ok=True):
    command = [MPIEXEC, "-np", str(ranks), "--oversubscribe", "--bind-to", "none", GRLM, *args]
    result = subprocess.run(command, capture_output=True, text=True, env=ENV)
    if ok and result.returncode != 0:
        raise AssertionError(f"{' '.join(command)} failed ({result.returncode}):\n{result.stderr[-4000:]}")
    return result


def config(name, data, train=None, evaluate=None):
    path = f"{ROOT}/{name}.json"
    with open(path, "w") as handle:
        json.dump({"run_dir": f"{ROOT}/{name}",
                   "data": {"catalog": f"{data}/catalog.json", "interactions": f"{data}/interactions.txt",
                            "tids": f"{data}/{'item_id2tid.json' if 'merged' in data else 'synthetic_item_id2tid.json'}"},
                   "train": train or TRAIN, "evaluate": evaluate or EVALUATE}, handle)
    return path


def records(name):
    with open(f"{ROOT}/{name}/evaluate/records.jsonl") as handle:
        return [json.loads(line) for line in handle]


def metrics(name):
    with open(f"{ROOT}/{name}/metrics.json") as handle:
        return json.load(handle)


def actions(result):
    table = result.stdout.split("stage       action")[1].strip().splitlines()[1:]
    return {line.split()[0]: " ".join(line.split()[1:-1]) for line in table if line.strip() and not line.startswith("test")
            and len(line.split()) >= 3 and line.split()[0] in {"embed", "similar", "extract", "build-sft", "train", "evaluate"}}


shutil.rmtree(ROOT, ignore_errors=True)
os.makedirs(ROOT)
DATA = f"{ROOT}/data"
subprocess.run([GRLM, "synth", "--items", "80", "--users", "70", "--seed", "9", "--out", DATA], check=True,
               capture_output=True, env=ENV)
with open(f"{DATA}/synthetic_item_id2tid.json") as handle:
    TIDS = {item: [w.strip().lower() for w in tid.strip("[]").split(",")] if isinstance(tid, str) else tid
            for item, tid in json.load(handle).items()}
REAL = {tuple(words) for words in TIDS.values()}

# ---------------------------------------------------------------- 1. end to end, np 1 == np 2
first = run(1, "run", "--config", config("np1", DATA))
assert "test metrics (" in first.stdout and "Recall@K" in first.stdout, first.stdout
m1 = metrics("np1")
for key in [f"recall@{k}" for k in (1, 3, 5, 10, 20)] + [f"ndcg@{k}" for k in (1, 3, 5, 10, 20)] + ["num_users", "split"]:
    assert key in m1, f"metrics.json lacks {key}: {m1}"
r1 = records("np1")
assert m1["num_users"] == len(r1) > 0 and m1["split"] == "test"
for k in (1, 3, 5, 10, 20):
    recall = sum(1 for r in r1 if 0 <= r["hit_rank"] < k) / len(r1)
    ndcg = sum(1 / math.log2(r["hit_rank"] + 2) for r in r1 if 0 <= r["hit_rank"] < k) / len(r1)
    assert abs(recall - m1[f"recall@{k}"]) < 1e-12 and abs(ndcg - m1[f"ndcg@{k}"]) < 1e-12, (k, recall, ndcg, m1)
for r in r1:
    assert len(r["ranked_item_ids"]) <= 20 and len(set(r["ranked_item_ids"])) == len(r["ranked_item_ids"]), r
    assert len(r["generated"]) == 4
    rank = r["ranked_item_ids"].index(r["target_item_id"]) if r["target_item_id"] in r["ranked_item_ids"] else -1
    assert rank == r["hit_rank"], r
run(2, "run", "--config", config("np2", DATA))
assert metrics("np2") | {"model": None} == m1 | {"model": None}, (metrics("np2"), m1)
assert [(r["user_id"], r["ranked_item_ids"], r["generated"]) for r in records("np2")] == \
       [(r["user_id"], r["ranked_item_ids"], r["generated"]) for r in r1], "np 2 records differ from np 1"
with h5py.File(f"{ROOT}/np2/grlm.h5", "r") as store:
    assert store["evaluate/hit_rank"].shape == (len(r1),) and store["evaluate/ranked"].shape == (len(r1), 20)
    assert len(store["evaluate/records"]) == len(r1)
SUMMARY.append(f"{len(r1)} test users: R@10 {m1['recall@10']:.3f}, NDCG@10 {m1['ndcg@10']:.3f}; np 2 == np 1; "
               "metrics.json == metrics from records.jsonl")

# ---------------------------------------------------------------- 2. skip and recompute
again = actions(run(2, "run", "--config", config("np2", DATA)))
assert set(again.values()) <= {"skipped (complete)", "disabled by config"}, again
changed = actions(run(2, "run", "--config", config("np2", DATA, train=dict(TRAIN, lr=4e-3))))
assert changed["train"] in ("ran", "recomputed") or "ran" in changed["train"], changed
assert changed["evaluate"] != "skipped (complete)" and changed["build-sft"] == "skipped (complete)", changed
SUMMARY.append(f"rerun: all skipped; train.lr changed: {changed}")

# ---------------------------------------------------------------- 3. constrained decoding
run(2, "evaluate", "--config", config("np2", DATA, train=dict(TRAIN, lr=4e-3), evaluate=dict(EVALUATE, constrained=True)))
groups = 0
for r in records("np2"):
    for text in r["generated"]:
        inside = text[text.index("[") + 1:text.index("]")]
        words = tuple(w.strip() for w in inside.split(","))
        assert words in REAL, f"constrained beam spelled a non-item: {text}"
        groups += 1
assert metrics("np2")["grounding"] == "constrained"
SUMMARY.append(f"constrained: {groups} generated sequences, every one a real item's TID")

# ---------------------------------------------------------------- 3b. seen items left out
with open(f"{DATA}/interactions.txt") as handle:
    EARLIER = {fields[0]: set(fields[1:-1]) for fields in (line.split() for line in handle) if fields}
seen_before = sum(len(set(r["ranked_item_ids"]) & EARLIER[r["user_id"]]) for r in records("np2"))
for constrained in (True, False):
    run(2, "evaluate", "--config", config("np2", DATA, train=dict(TRAIN, lr=4e-3),
                                         evaluate=dict(EVALUATE, constrained=constrained, exclude_seen=True)))
    excluded = records("np2")
    assert metrics("np2")["exclude_seen"] is True and metrics("np2")["num_users"] == len(excluded)
    for r in excluded:
        assert not set(r["ranked_item_ids"]) & EARLIER[r["user_id"]], f"a seen item recommended: {r}"
    if not constrained:
        # The same fuzzy run without the option lists seen items, so the check above has something to catch.
        run(2, "evaluate", "--config", config("np2", DATA, train=dict(TRAIN, lr=4e-3), evaluate=EVALUATE))
        fuzzy_seen = sum(len(set(r["ranked_item_ids"]) & EARLIER[r["user_id"]]) for r in records("np2"))
        assert fuzzy_seen > 0, "no seen item in the fuzzy lists without exclude_seen: the check would be vacuous"
SUMMARY.append(f"exclude_seen: no earlier item recommended, constrained and fuzzy (without it: {seen_before} constrained, "
               f"{fuzzy_seen} fuzzy)")

# ---------------------------------------------------------------- 4. validation split
run(1, "evaluate", "--config", config("np1", DATA, evaluate=dict(EVALUATE, split="validation")))
with open(f"{ROOT}/np1/sft/sequence.json") as handle:
    sequences = {s["user_id"]: s for s in json.load(handle)}
valid = records("np1")
assert metrics("np1")["split"] == "validation"
assert all(r["target_item_id"] == sequences[r["user_id"]]["valid_item_id"] for r in valid)
assert all(r["target_item_id"] == sequences[r["user_id"]]["test_item_id"] for r in r1)
SUMMARY.append("validation split targets valid_item_id, test split test_item_id")

# ---------------------------------------------------------------- 5. resume
run(2, "evaluate", "--config", config("np1", DATA))  # back to the test split, at np 2
full = metrics("np1")
assert full | {"model": None} == m1 | {"model": None}, "test metrics at np 2 after the split change differ"
with h5py.File(f"{ROOT}/np1/grlm.h5", "r+") as store:
    done = store["evaluate/_chunks_done"]
    cleared = list(range(1, len(done), 2))
    for chunk in cleared:
        done[chunk] = 0
    store["evaluate/hit_rank"][:] = -7  # garbage where the cleared chunks were: they must be recomputed
    for chunk in range(len(done)):
        if done[chunk]:
            lo, hi = chunk * 7, min(len(r1), chunk * 7 + 7)
            store["evaluate/hit_rank"][lo:hi] = [r["hit_rank"] for r in r1[lo:hi]]
    store["evaluate"].attrs["status"] = "in_progress"
resumed = run(2, "evaluate", "--config", config("np1", DATA))
assert "resuming" in resumed.stderr, resumed.stderr[-2000:]
assert metrics("np1") | {"model": None} == m1 | {"model": None}, "resumed evaluation differs"
SUMMARY.append(f"resume: {len(cleared)} cleared chunks evaluated again, same metrics")

# ---------------------------------------------------------------- 6. merged domains
subprocess.run([GRLM, "synth", "--items", "50", "--users", "40", "--seed", "4", "--out", f"{ROOT}/other"], check=True,
               capture_output=True, env=ENV)
merged = f"{ROOT}/merged"
subprocess.run([GRLM, "merge-domains", "--domain", f"a={DATA}/catalog.json,{DATA}/interactions.txt,{DATA}/synthetic_item_id2tid.json",
                "--domain", f"b={ROOT}/other/catalog.json,{ROOT}/other/interactions.txt,{ROOT}/other/synthetic_item_id2tid.json",
                "--out", merged], check=True, capture_output=True, env=ENV)
run(2, "run", "--config", config("cross", merged))
cross = metrics("cross")
assert set(cross["per_domain"]) == {"a", "b"}, cross
assert sum(d["num_users"] for d in cross["per_domain"].values()) == cross["num_users"]
SUMMARY.append("merged domains: per-domain metrics " + ", ".join(
    f"{name} {d['num_users']} users R@10 {d['recall@10']:.3f}" for name, d in cross["per_domain"].items()))

# ---------------------------------------------------------------- 7. transition prior
with open(f"{DATA}/interactions.txt") as handle:
    HISTORIES = {fields[0]: fields[1:] for fields in (line.split() for line in handle) if fields}
TID_OF = {item: tuple(words) for item, words in TIDS.items()}


def log_priors(held_out, smoothing):
    """Per user, TID -> log P(TID | the user's last item before the target), counted as grlm should."""
    import collections
    followers, popularity = collections.defaultdict(collections.Counter), collections.Counter()
    for items in HISTORIES.values():
        train = items[:-held_out]
        popularity.update(train)
        for a, b in zip(train, train[1:]):
            followers[a][b] += 1
    base = collections.Counter()
    for item, tid in TID_OF.items():
        base[tid] += popularity[item] + 1
    total_base = sum(base.values())
    priors, followed = {}, {}
    for user, items in HISTORIES.items():
        counts = collections.Counter()
        for follower, times in followers[items[-held_out - 1]].items():
            counts[TID_OF[follower]] += times
        total = sum(counts.values())
        priors[user] = {tid: math.log((counts[tid] + smoothing * base[tid] / total_base) / (total + smoothing)) for tid in base}
        followed[user] = set(counts)
    return priors, followed


def prior_run(split, weight, smoothing=0.5):
    evaluate = dict(EVALUATE, constrained=True, split=split, transition_prior=weight, transition_smoothing=smoothing)
    run(2, "evaluate", "--config", config("np2", DATA, train=dict(TRAIN, lr=4e-3), evaluate=evaluate))
    assert (metrics("np2").get("transition_prior") or 0) == weight, metrics("np2")
    return {r["user_id"]: dict(zip(r["ranked_item_ids"], r["scores"])) for r in records("np2")}, records("np2")


checked, lengths = 0, set()
for split, held_out in (("test", 1), ("validation", 2)):
    priors, followed = log_priors(held_out, 0.5)
    free, _ = prior_run(split, 0.0)
    fused, _ = prior_run(split, 1.5)
    for user, scores in fused.items():
        for item, score in scores.items():
            if item not in free[user]:
                continue
            gained = score - free[user][item]
            expected = 1.5 * priors[user][TID_OF[item]]
            # Scores are sums / length (Hugging Face's sequences_scores): the gain is expected / length.
            length = expected / gained
            assert abs(length - round(length)) < 0.02 and round(length) > 0, (split, user, item, score, free[user][item], expected)
            lengths.add(round(length))
            checked += 1
    assert len(lengths) == 1, f"one token length for every Term ID of the synthetic data, got {lengths}"
    # A heavy weight: the prior orders every list (up to near ties), and a user whose last item had followers gets
    # one of them first (with smoothing < 1 a follower's prefix outweighs any prefix of others).
    _, heavy = prior_run(split, 50.0)
    led = with_followers = 0
    for r in heavy:
        p = [priors[r["user_id"]][TID_OF[item]] for item in r["ranked_item_ids"]]
        assert all(a >= b - 0.2 for a, b in zip(p, p[1:])), (split, r["user_id"], p)  # 0.2 x 50: beyond any model margin
        if followed[r["user_id"]] and r["ranked_item_ids"]:
            with_followers += 1
            led += TID_OF[r["ranked_item_ids"][0]] in followed[r["user_id"]]
    assert with_followers > 10 and led >= 0.9 * with_followers, f"{split}: followers first for {led} of {with_followers} users"
assert checked > 40, checked
SUMMARY.append(f"transition prior: {checked} beam scores gained w log P / {lengths.pop()} tokens, test and validation counts; "
               "a heavy weight orders the lists by the prior and puts a follower of the last item first")
print("\n".join(SUMMARY))
