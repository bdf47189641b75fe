"""The spec's last-item transition baseline, recomputed, and a paired comparison with a grlm run.

  python3 bench/compare_transition_baseline.py INTERACTIONS RUN_DIR

Baseline (GRLM-SPEC, "measured on ../shared/data/beauty, train = every item but each user's
last"): count the transitions a -> b between consecutive items of every user's history without
its last item; for each user rank the items that followed the user's second-to-last item by that
count, then fill up with the most popular items (ties: the lower id). Ties between followers: in
the order the transitions were first seen (this reproduces the spec's 0.0573 / 0.0718 / N@10
0.0479 exactly) or, as a stronger variant, the more popular follower first. When the run left
out the items each user had before (metrics.json "exclude_seen"), the baseline is also given the
same rule: its list without the user's earlier items, filled up to 20.
grlm: RUN_DIR/evaluate/records.jsonl (hit_rank, 0-based; -1 = not in the top 20).

On a run evaluated on the validation split (metrics.json "split") the baseline is the same one
step earlier: transitions of every history without its last two items, continued from the
third-to-last item, the second-to-last as target.
Prints Recall@K / NDCG@K of both over the users in the records, and for K = 5, 10 the paired
difference with a bootstrap 95% interval over users and McNemar's test (users hit by one of the
two only), and the paired NDCG@10 difference with its bootstrap interval. Python is a test oracle / analysis tool here, never on the run path."""
import collections
import json
import math
import os
import sys

import numpy


def load_histories(path):
    histories = {}
    for line in open(path):
        fields = line.split()
        if fields:
            histories[fields[0]] = fields[1:]
    return histories


def transition_ranking(histories, popular_ties, exclude_seen=False, depth=20, held_out=1):
    """held_out: each user's last items the baseline never sees (1: test, 2: validation)."""
    following = collections.defaultdict(collections.Counter)
    popularity = collections.Counter()
    for items in histories.values():
        train = items[:-held_out]
        popularity.update(train)
        for a, b in zip(train, train[1:]):
            following[a][b] += 1
    popular = [item for item, _ in sorted(popularity.items(), key=lambda kv: (-kv[1], int(kv[0])))]
    rankings = {}
    # Counter keeps first-seen order and sorted() is stable: equal counts stay in that order.
    tie = (lambda b: (-popularity[b], int(b))) if popular_ties else (lambda b: ())
    for user, items in histories.items():
        last = items[-held_out - 1]
        seen = set(items[:-held_out]) if exclude_seen else set()
        ranked = [b for b, _ in sorted(following[last].items(), key=lambda kv: (-kv[1], *tie(kv[0]))) if b not in seen]
        ranked = ranked[:depth]
        for item in popular:
            if len(ranked) >= depth:
                break
            if item not in ranked and item not in seen:
                ranked.append(item)
        rankings[user] = ranked
    return rankings


def metrics(ranks, ks=(1, 3, 5, 10, 20)):
    n = len(ranks)
    out = {}
    for k in ks:
        out[f"recall@{k}"] = sum(1 for r in ranks if 0 <= r < k) / n
        out[f"ndcg@{k}"] = sum(1 / math.log2(r + 2) for r in ranks if 0 <= r < k) / n
    return out


def bootstrap(diff, rounds=2000, seed=0):
    """Mean of the per-user differences and its bootstrap 95% interval over users."""
    values = numpy.asarray(diff, dtype=float)
    rng = numpy.random.default_rng(seed)
    means = numpy.concatenate([values[rng.integers(0, len(values), size=(min(100, rounds - at), len(values)))].mean(axis=1)
                               for at in range(0, rounds, 100)])
    means.sort()
    return values.mean(), means[int(0.025 * rounds)], means[int(0.975 * rounds) - 1]


def paired_ndcg(grlm, base, k):
    gain = lambda r: 1 / math.log2(r + 2) if 0 <= r < k else 0.0
    return bootstrap([gain(x) - gain(y) for x, y in zip(grlm, base)])


def paired(grlm, base, k, rounds=2000, seed=0):
    a = [1 if 0 <= r < k else 0 for r in grlm]
    b = [1 if 0 <= r < k else 0 for r in base]
    mean, low, high = bootstrap([x - y for x, y in zip(a, b)], rounds, seed)
    only_grlm = sum(1 for x, y in zip(a, b) if x and not y)
    only_base = sum(1 for x, y in zip(a, b) if y and not x)
    z = (only_grlm - only_base) / math.sqrt(only_grlm + only_base) if only_grlm + only_base else 0.0
    p = math.erfc(abs(z) / math.sqrt(2))  # two-sided, normal approximation of McNemar's test
    return mean, low, high, only_grlm, only_base, p


def main():
    interactions, run_dir = sys.argv[1], sys.argv[2]
    histories = load_histories(interactions)
    records = [json.loads(line) for line in open(f"{run_dir}/evaluate/records.jsonl")]
    grlm_ranks = [record["hit_rank"] for record in records]
    run_metrics = json.load(open(f"{run_dir}/metrics.json")) if os.path.exists(f"{run_dir}/metrics.json") else {}
    # The validation split's target is each user's second-to-last item: the baseline then counts
    # transitions without each user's last two items and continues from the third-to-last.
    held_out = 2 if run_metrics.get("split") == "validation" else 1
    for record in records:
        assert histories[record["user_id"]][-held_out] == record["target_item_id"], \
            f"user {record['user_id']}: target is not item n-{held_out - 1} of the history"
    g = metrics(grlm_ranks)
    print(f"{len(records)} users, {run_metrics.get('split', 'test')} split")
    variants = [(False, False, "transition (spec: ties first seen)"), (True, False, "transition, ties by popularity")]
    if run_metrics.get("exclude_seen"):
        variants += [(False, True, "transition without the user's earlier items (as grlm)"),
                     (True, True, "transition, ties by popularity, without the user's earlier items")]
    for popular_ties, exclude_seen, name in variants:
        rankings = transition_ranking(histories, popular_ties, exclude_seen, held_out=held_out)
        base_ranks = []
        for record in records:
            ranked = rankings[record["user_id"]]
            base_ranks.append(ranked.index(record["target_item_id"]) if record["target_item_id"] in ranked else -1)
        b = metrics(base_ranks)
        print(f"\ngrlm vs {name}")
        print(f"{'K':>3s} {'R grlm':>8s} {'R trans':>8s} {'N grlm':>8s} {'N trans':>8s}")
        for k in (1, 3, 5, 10, 20):
            print(f"{k:3d} {g[f'recall@{k}']:8.4f} {b[f'recall@{k}']:8.4f} {g[f'ndcg@{k}']:8.4f} {b[f'ndcg@{k}']:8.4f}")
        for k in (5, 10, 20):
            mean, low, high, only_g, only_b, p = paired(grlm_ranks, base_ranks, k)
            print(f"R@{k} grlm - transition: {mean:+.4f} (bootstrap 95% [{low:+.4f}, {high:+.4f}]); "
                  f"hit by grlm only {only_g}, by transition only {only_b}; McNemar p = {p:.3g}")
        mean, low, high = paired_ndcg(grlm_ranks, base_ranks, 10)
        print(f"N@10 grlm - transition: {mean:+.4f} (bootstrap 95% [{low:+.4f}, {high:+.4f}])")


if __name__ == "__main__":
    main()
