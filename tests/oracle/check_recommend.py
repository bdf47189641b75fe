"""`grlm recommend` against `evaluate --split validation`, and its handling of odd inputs.

A small synthetic run (np 2, trie-constrained decoding, evaluate on the validation split) gives
each user's validation records. Then `grlm recommend` gets every user's history up to the
second-to-last item (what evaluate's validation prompt holds) and must return, at np 1 and np 3,
the records' top K items in input order — the same prompt builder and recommender. Also: the
JSON Lines input gives the same output as the text input; the HDF5 output holds the same lists;
scores are beam scores (finite, best first); an unknown item is skipped (the user's list as
without it) and reported; a history of unknown items only gets an empty list; a duplicate user
line is answered like the first; `--unknown error` exits 1 naming the file, line and item; an
interrupted batch resumes from its partial store; with evaluate.transition_prior each score gains
the prior's weighted log-probability, counted from every history of the run's data.

The run evaluates with constrained beams and seen items excluded: recommend's defaults.

Usage: check_recommend.py GRLM MPIEXEC SCRATCH
"""
import json
import math
import os
import shutil
import subprocess
import sys
import time

import h5py

GRLM, MPIEXEC, ROOT = sys.argv[1:4]
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", OMP_NUM_THREADS="1")
K = 5


def run(args, ranks=1, check=True):
    command = [MPIEXEC, "-np", str(ranks), "--oversubscribe", "--bind-to", "none", GRLM, *args]
    result = subprocess.run(command, capture_output=True, text=True, env=ENV)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return result


shutil.rmtree(ROOT, ignore_errors=True)
os.makedirs(ROOT)
DATA, RUN = f"{ROOT}/data", f"{ROOT}/run"
run(["synth", "--items", "120", "--users", "200", "--seed", "3", "--out", DATA])
run(["run", "--device", "cpu", "--run-dir", RUN, "--set", f"data.catalog={DATA}/catalog.json",
     "--set", f"data.interactions={DATA}/interactions.txt", "--set", "train.arch.hidden_size=64",
     "--set", "train.arch.layers=2", "--set", "train.arch.heads=4", "--set", "train.arch.kv_heads=2",
     "--set", "train.arch.head_dim=16", "--set", "train.arch.intermediate_size=128", "--set", "train.max_steps=300",
     "--set", "train.global_batch_size=16", "--set", "train.micro_batch_size=4", "--set", "train.lr=3e-3",
     "--set", "evaluate.split=validation", "--set", "evaluate.constrained=true", "--set", f"evaluate.num_beams={K}",
     "--set", f"evaluate.num_return_sequences={K}", "--set", "evaluate.max_new_tokens=16", "--set", "evaluate.chunk_users=16",
     "--set", "evaluate.exclude_seen=true"],
    ranks=2)
records = {}
with open(f"{RUN}/evaluate/records.jsonl") as lines:
    for line in lines:
        record = json.loads(line)
        records[record["user_id"]] = record["ranked_item_ids"][:K]

histories = []
with open(f"{DATA}/interactions.txt") as lines:
    for line in lines:
        words = line.split()
        if len(words) >= 4:
            histories.append((words[0], words[1:-2]))
assert len(histories) == len(records), f"{len(histories)} histories, {len(records)} validation records"
with open(f"{ROOT}/histories.txt", "w") as out:
    out.writelines(" ".join([user, *items]) + "\n" for user, items in histories)
with open(f"{ROOT}/histories.jsonl", "w") as out:
    out.writelines(json.dumps({"user_id": user, "item_ids": items}) + "\n" for user, items in histories)


def recommend(input_file, output, ranks, *extra, check=True):
    return run(["recommend", "--device", "cpu", "--run-dir", RUN, "--input", input_file, "--output", output,
                "--k", str(K), "--chunk-users", "16", *extra], ranks=ranks, check=check)


def read_jsonl(path):
    with open(path) as lines:
        return [json.loads(line) for line in lines]


for ranks in (1, 3):
    output = f"{ROOT}/recs-np{ranks}.jsonl"
    recommend(f"{ROOT}/histories.txt", output, ranks)
    answers = read_jsonl(output)
    assert [a["user_id"] for a in answers] == [user for user, _ in histories], f"np {ranks}: not in input order"
    differ = [a["user_id"] for a in answers if a["item_ids"] != records[a["user_id"]]]
    assert not differ, f"np {ranks}: {len(differ)} users differ from evaluate's validation records, e.g. {differ[:5]}"
    for answer in answers:
        scores = answer["scores"]
        assert len(scores) == len(answer["item_ids"]) == len(answer["tids"]) <= K, answer
        assert all(s is not None and math.isfinite(s) and s <= 0 for s in scores), f"beam scores expected: {answer}"
        assert scores == sorted(scores, reverse=True), f"scores not best first: {answer}"
    assert not os.path.exists(output + ".partial.h5"), "the partial store was left behind"
    print(f"np {ranks}: {len(answers)} users, top {K} equal to evaluate --split validation's records")
assert read_jsonl(f"{ROOT}/recs-np1.jsonl") == read_jsonl(f"{ROOT}/recs-np3.jsonl"), "np 1 and np 3 differ"

recommend(f"{ROOT}/histories.jsonl", f"{ROOT}/recs-from-jsonl.jsonl", 2)
assert read_jsonl(f"{ROOT}/recs-from-jsonl.jsonl") == read_jsonl(f"{ROOT}/recs-np1.jsonl"), "JSON Lines input differs"
recommend(f"{ROOT}/histories.txt", f"{ROOT}/recs.h5", 2)
with h5py.File(f"{ROOT}/recs.h5", "r") as h5:
    user_ids = [u.decode() for u in h5["user_ids"][:]]
    item_ids = [[i.decode() for i in row if i] for row in h5["item_ids"][:]]  # "" pads a short list
    scores = h5["scores"][:]
expected = read_jsonl(f"{ROOT}/recs-np1.jsonl")
assert user_ids == [a["user_id"] for a in expected] and item_ids == [a["item_ids"] for a in expected], "HDF5 output differs"
assert all(abs(float(s) - e) < 1e-12 for row, a in zip(scores, expected) for s, e in zip(row, a["scores"]))
print("JSON Lines input and HDF5 output: the same lists")
# --model: the same checkpoint from another folder gives the same lists; a bad option is a usage error.
shutil.copytree(f"{RUN}/model", f"{ROOT}/elsewhere-model")
recommend(f"{ROOT}/histories.txt", f"{ROOT}/recs-model.jsonl", 2, "--model", f"{ROOT}/elsewhere-model")
assert read_jsonl(f"{ROOT}/recs-model.jsonl") == expected, "--model with a copy of the run's model differs"
usage = recommend(f"{ROOT}/histories.txt", f"{ROOT}/never.jsonl", 2, "--grounding", "exact", check=False)
assert usage.returncode == 2 and "--grounding exact" in usage.stderr, f"--grounding exact: exit {usage.returncode}"
print("--model with another folder: the same lists; a bad --grounding exits 2")

# The transition prior (--set evaluate.transition_prior): counted from every history of the run's
# data, nothing held out; each returned item's score (float32, to compare exactly) gains
# w * log P(item | the history's last item) / its token length. Asked with free beams: exit 2.
import collections
with open(f"{RUN}/extract/item_id2tid.json") as handle:
    TIDS = {item: tuple(w.strip().lower() for w in (tid.strip("[]").split(",") if isinstance(tid, str) else tid))
            for item, tid in json.load(handle).items()}
FOLLOWERS, POPULARITY = collections.defaultdict(collections.Counter), collections.Counter()
with open(f"{DATA}/interactions.txt") as lines:
    for fields in (line.split() for line in lines):
        POPULARITY.update(fields[1:])
        for a, b in zip(fields[1:], fields[2:]):
            FOLLOWERS[a][b] += 1
BASE = collections.Counter()
for item, tid in TIDS.items():
    BASE[tid] += POPULARITY[item] + 1
W, S = 0.5, 2.0
recommend(f"{ROOT}/histories.txt", f"{ROOT}/recs-f32.jsonl", 2, "--set", "evaluate.dtype=float32")
recommend(f"{ROOT}/histories.txt", f"{ROOT}/recs-prior.jsonl", 2, "--set", "evaluate.dtype=float32",
          "--set", f"evaluate.transition_prior={W}", "--set", f"evaluate.transition_smoothing={S}")
lengths, checked = set(), 0
for (user, items), plain, fused in zip(histories, read_jsonl(f"{ROOT}/recs-f32.jsonl"), read_jsonl(f"{ROOT}/recs-prior.jsonl")):
    counts = collections.Counter()
    for follower, times in FOLLOWERS[items[-1]].items():
        counts[TIDS[follower]] += times
    before = dict(zip(plain["item_ids"], plain["scores"]))
    for item, score in zip(fused["item_ids"], fused["scores"]):
        if item in before:
            tid = TIDS[item]
            expected = W * math.log((counts[tid] + S * BASE[tid] / sum(BASE.values())) / (sum(counts.values()) + S))
            length = expected / (score - before[item])
            assert abs(length - round(length)) < 0.02, (user, item, score, before[item], expected)
            lengths.add(round(length))
            checked += 1
assert checked > 50 and len(lengths) == 1, (checked, lengths)
refused = recommend(f"{ROOT}/histories.txt", f"{ROOT}/never.jsonl", 2, "--grounding", "fuzzy", "--set",
                    "evaluate.transition_prior=0.5", check=False)
assert refused.returncode == 2 and "evaluate.transition_prior" in refused.stderr, refused.stderr[-1500:]
refused = recommend(f"{ROOT}/histories.txt", f"{ROOT}/never.jsonl", 2, "--set", "evaluate.transition_smoothing=0",
                    check=False)
assert refused.returncode == 2 and "evaluate.transition_smoothing" in refused.stderr, refused.stderr[-1500:]
print(f"transition prior: {checked} scores gained w log P / {lengths.pop()} tokens, P from every history; "
      "with free beams or smoothing 0 it is refused")

# Odd inputs: an unknown item inside a history, a history of unknown items only, a duplicate user.
user, items = histories[0]
odd = [f"{user} {items[0]} no-such-item {' '.join(items[1:])}", "ghost no-such-item also-missing", f"{user} {' '.join(items)}"]
with open(f"{ROOT}/odd.txt", "w") as out:
    out.write("\n".join(odd) + "\n\n")  # a trailing blank line is accepted
result = recommend(f"{ROOT}/odd.txt", f"{ROOT}/odd.jsonl", 2)
answers = read_jsonl(f"{ROOT}/odd.jsonl")
# Lines 1 and 3 hold the same known items (their chunk differs from evaluate's, so the lists are
# compared with each other: batching changes the numerics of a bfloat16 beam search slightly).
assert answers[0]["item_ids"] == answers[2]["item_ids"] and len(answers[0]["item_ids"]) > 0, answers
assert answers[1] == {"user_id": "ghost", "item_ids": [], "scores": [], "tids": []}, answers[1]
for said in ("3 item(s) not in the run's catalog", "no-such-item", "1 user(s) with no known item", "ghost",
             "appear on more than one line"):
    assert said in result.stderr, f"recommend did not report '{said}':\n{result.stderr[-2000:]}"
with open(f"{ROOT}/empty.txt", "w") as out:
    out.write("\n\n")  # blank lines only: no history
for output in (f"{ROOT}/empty.jsonl", f"{ROOT}/empty.h5"):
    result = recommend(f"{ROOT}/empty.txt", output, 2)
    assert "no history in" in result.stderr and os.path.exists(output), f"empty input: {result.stderr[-1500:]}"
assert open(f"{ROOT}/empty.jsonl").read() == ""
with h5py.File(f"{ROOT}/empty.h5", "r") as h5:
    assert h5["user_ids"].shape == (0,) and h5["scores"].shape == (0, K)
refused = recommend(f"{ROOT}/odd.txt", f"{ROOT}/odd-error.jsonl", 2, "--unknown", "error", check=False)
assert refused.returncode == 1 and "odd.txt:1: item no-such-item of user" in refused.stderr, \
    f"--unknown error: exit {refused.returncode}:\n{refused.stderr[-2000:]}"
assert not os.path.exists(f"{ROOT}/odd-error.jsonl")
with open(f"{ROOT}/bad.jsonl", "w") as out:
    out.write('{"user_id": "1", "item_ids": ["1"]}\n{"user": "2"}\n')
refused = recommend(f"{ROOT}/bad.jsonl", f"{ROOT}/bad-out.jsonl", 2, check=False)
assert refused.returncode == 1 and "bad.jsonl:2" in refused.stderr, f"bad JSON Lines: exit {refused.returncode}:\n{refused.stderr[-1500:]}"
print("unknown items skipped and reported, an empty history answered empty, duplicates answered alike, an empty "
      "input gives an empty output; "
      "--unknown error and a malformed line refused naming file and line (exit 1)")

# Resume: SIGTERM stops the batch at a chunk boundary, the rerun completes it.
big = f"{ROOT}/big.txt"
with open(big, "w") as out:
    for copy in range(6):
        out.writelines(" ".join([f"{user}-{copy}", *items]) + "\n" for user, items in histories[:192])
output = f"{ROOT}/big.jsonl"
# Copies of 192 users (12 chunks of 16) keep every user in the same chunk of users as evaluate's
# chunks of 16: the chunk's prompts are batched for beam search by length, and a batch's padding
# changes its numerics, enough to flip a near-tie in bfloat16.
job = subprocess.Popen([MPIEXEC, "-np", "2", "--oversubscribe", "--bind-to", "none", GRLM, "recommend", "--device", "cpu",
                        "--run-dir", RUN, "--input", big, "--output", output, "--k", str(K), "--chunk-users", "16"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=ENV)
deadline = time.time() + 120
while not os.path.exists(output + ".partial.h5") and time.time() < deadline and job.poll() is None:
    time.sleep(0.05)
time.sleep(1.0)
job.send_signal(15)
_, stderr = job.communicate(timeout=120)
if job.returncode == 0:
    print("the batch ended before SIGTERM reached it: resume not exercised")
else:
    # The ranks exit 143; mpirun, signalled too, reports its own non-zero code.
    assert "interrupted by SIGTERM" in stderr, f"SIGTERM: exit {job.returncode}:\n{stderr[-2000:]}"
    assert os.path.exists(output + ".partial.h5") and not os.path.exists(output)
    rerun = run(["recommend", "--device", "cpu", "--run-dir", RUN, "--input", big, "--output", output, "--k", str(K),
                 "--chunk-users", "16"], ranks=2)
    assert "recommend: resuming" in rerun.stderr, rerun.stderr[-2000:]
answers = read_jsonl(output)
assert len(answers) == 6 * 192
differ = [a["user_id"] for a in answers if a["item_ids"] != records[a["user_id"].rsplit("-", 1)[0]]]
assert not differ, f"after the resume {len(differ)} users differ, e.g. {differ[:5]}"
print(f"SIGTERM during a batch of {len(answers)} users (exit {job.returncode}); the rerun resumed and every list is right")
print("check_recommend: all checks passed")
