"""Chaos test: whole multi-rank pipelines killed with SIGKILL at random points, then rerun.

A small synthetic pipeline (every stage; float64 training so results can be compared exactly)
runs once uninterrupted at np N. Then, for each of POINTS seeded random moments spread over that
run's duration (so every stage gets hit), a fresh run is started and every process of the job
(mpirun and all ranks) is killed with SIGKILL at that moment; the same command is rerun until it
ends. Its metrics.json, evaluation records, exported weights and SFT files must equal the
uninterrupted run's, byte for byte (metrics: value for value). Then one rank alone is killed
during training: the job must end non-zero within BOUND seconds (no rank left waiting), and the
rerun must again give the same results. Last, a second job started on the same run_dir while the first
trains is refused, and the first ends with the same results. With --disk-full K, K runs on a
tmpfs too small for the run (a random share of what it needs) must fail saying the disk is full,
and rerun to the same results once the tmpfs is large enough. With --cuts K, K copies of the
finished run have their store cut short at seeded points (what a full disk or a crashed copy
leaves): each rerun rebuilds the store from the complete stages that still verify, keeps the
damaged file beside it, and ends with the same results.

Usage: check_chaos.py GRLM MPIEXEC SCRATCH [--ranks N] [--points K] [--seed S]
(the test suite: 2 ranks, 6 points, one per stage; bench/bench_chaos.sh: np 2 and 3, 24 points each)
"""
import argparse
import filecmp
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time

parser = argparse.ArgumentParser()
parser.add_argument("grlm")
parser.add_argument("mpiexec")
parser.add_argument("scratch")
parser.add_argument("--ranks", type=int, default=2)
parser.add_argument("--points", type=int, default=3)
parser.add_argument("--seed", type=int, default=7)
parser.add_argument("--disk-full", type=int, default=0, help="runs on a tmpfs filled up at random points (root)")
parser.add_argument("--cuts", type=int, default=0, help="finished stores cut short at random points, then rerun")
args = parser.parse_args()
GRLM, MPIEXEC, ROOT, RANKS = args.grlm, args.mpiexec, args.scratch, args.ranks
BOUND = 30.0  # seconds for the others to end after one rank is killed
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", OMP_NUM_THREADS="1")

shutil.rmtree(ROOT, ignore_errors=True)
os.makedirs(ROOT)
DATA = f"{ROOT}/data"
subprocess.run([GRLM, "synth", "--items", "200", "--users", "300", "--seed", "5", "--out", DATA], check=True,
               capture_output=True, env=ENV)
SETTINGS = ["--set", f"data.catalog={DATA}/catalog.json", "--set", f"data.interactions={DATA}/interactions.txt",
            "--set", "embed.chunk_items=16", "--set", "extract.chunk_items=16",
            "--set", "train.arch.hidden_size=32", "--set", "train.arch.layers=1", "--set", "train.arch.heads=2",
            "--set", "train.arch.kv_heads=1", "--set", "train.arch.head_dim=16", "--set", "train.arch.intermediate_size=64",
            "--set", "train.dtype=float64", "--set", "train.max_steps=200", "--set", "train.save_steps=10",
            "--set", "train.global_batch_size=12", "--set", "train.micro_batch_size=2", "--set", "train.log_steps=20",
            "--set", "evaluate.dtype=float32", "--set", "evaluate.num_beams=3", "--set", "evaluate.num_return_sequences=3",
            "--set", "evaluate.max_new_tokens=10", "--set", "evaluate.chunk_users=10"]


def command(run_dir):
    return [MPIEXEC, "-np", str(RANKS), "--oversubscribe", "--bind-to", "none", GRLM, "run", "--device", "cpu",
            "--run-dir", run_dir, *SETTINGS]


def run_to_end(run_dir):
    result = subprocess.run(command(run_dir), capture_output=True, text=True, env=ENV)
    if result.returncode != 0:
        raise AssertionError(f"rerun of {run_dir} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return result


def outputs_equal(reference, run_dir):
    """Names what differs between two finished runs (empty: nothing)."""
    problems = []
    with open(f"{reference}/metrics.json") as a, open(f"{run_dir}/metrics.json") as b:
        ma, mb = json.load(a), json.load(b)
    ma.pop("model", None), mb.pop("model", None)
    if ma != mb:
        problems.append(f"metrics.json: {ma} != {mb}")
    files = ["evaluate/records.jsonl", "model/model.safetensors"] + \
        [f"sft/{name}" for name in sorted(os.listdir(f"{reference}/sft")) if name.endswith(".json")]
    for name in files:
        if not filecmp.cmp(f"{reference}/{name}", f"{run_dir}/{name}", shallow=False):
            problems.append(f"{name} differs")
    return problems


def stage_of(log):
    started = [line.split("stage ")[1].split(":")[0] for line in log.splitlines()
               if "stage " in line and (": starting" in line or "resuming" in line)]
    return started[-1] if started else "before any stage"


# ---------------------------------------------------------------- the uninterrupted run
reference = f"{ROOT}/reference"
launched = time.time()
reference_log = run_to_end(reference).stderr
duration = time.time() - launched


def seconds_of(line):
    """Seconds after the launch of the line's log time ("[r0 2026-11-29 10:21:06.215 INFO] ...", local time)."""
    clock = line.split()[2]
    hours, minutes, seconds = clock.split(":")
    local = time.localtime(launched)
    launch_clock = local.tm_hour * 3600 + local.tm_min * 60 + local.tm_sec + launched % 1
    return (int(hours) * 3600 + int(minutes) * 60 + float(seconds) - launch_clock) % 86400  # past midnight too


# Each stage's window in the uninterrupted run, from its log: the kills are dealt over them.
lines = [line for line in reference_log.splitlines() if line.startswith("[r0 ")]
WINDOWS = []
for line in lines:
    if ": starting" in line and "stage " in line:
        WINDOWS.append([line.split("stage ")[1].split(":")[0], seconds_of(line), None])
    if "complete in" in line and "stage " in line:
        WINDOWS[-1][2] = seconds_of(line)
print(f"uninterrupted run at np {RANKS}: {duration:.1f} s; stages (s after launch): " +
      ", ".join(f"{name} {start:.1f}-{end:.1f}" for name, start, end in WINDOWS))

# ---------------------------------------------------------------- kill -9 of the whole job
def wait_group_gone(group, timeout=30.0):
    """Waits until no process of the process group is left: the ranks, mpirun's grandchildren,
    may still be exiting (and holding the run_dir's lock) when mpirun itself has been reaped."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    raise AssertionError(f"processes of the killed job (group {group}) still alive after {timeout:.0f} s")


rng = random.Random(args.seed)
hit = {}
for point in range(args.points):
    name, start, end = WINDOWS[point % len(WINDOWS)]  # every stage in turn, a random moment inside it
    delay = start + rng.random() * (end - start)
    run_dir = f"{ROOT}/killed-{point}"
    with open(f"{ROOT}/killed.log", "w") as log_file:  # a file, not a pipe nobody reads while the job runs
        job = subprocess.Popen(command(run_dir), stdout=subprocess.DEVNULL, stderr=log_file, env=ENV, start_new_session=True)
        time.sleep(delay)
        os.killpg(job.pid, signal.SIGKILL)
        job.wait()
        wait_group_gone(job.pid)
    with open(f"{ROOT}/killed.log") as log_file:
        log = log_file.read()
    stage = stage_of(log)
    hit[stage] = hit.get(stage, 0) + 1
    run_to_end(run_dir)  # a kill that lands after the end leaves nothing to do: the rerun skips every stage
    problems = outputs_equal(reference, run_dir)
    assert not problems, f"killed at {delay:.1f} s (in {stage}), rerun: {problems}"
    print(f"point {point}: SIGKILL at {delay:5.1f} s (aimed at {name}, log says {stage}); rerun equals the uninterrupted run")
    shutil.rmtree(run_dir)

# ---------------------------------------------------------------- one rank killed alone
def wait_for_training(run_dir, job):
    """Returns once the job has written its first training checkpoint (its curve file), whatever the load."""
    deadline = time.monotonic() + 300
    while not os.path.exists(f"{run_dir}/train/curve.csv"):
        assert job.poll() is None, f"the job ended before training ({job.returncode})"
        assert time.monotonic() < deadline, "the job did not reach training in 300 s"
        time.sleep(0.05)


run_dir = f"{ROOT}/one-rank"
job = subprocess.Popen(command(run_dir), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV,
                       start_new_session=True)
wait_for_training(run_dir, job)
ranks = subprocess.run(["pgrep", "-s", str(os.getpgid(job.pid)), "-x", "grlm"], capture_output=True, text=True).stdout.split()
victim = int(sorted(ranks, key=int)[-1]) if len(ranks) == RANKS else None
assert victim is not None, f"expected {RANKS} rank processes, found {ranks}"
killed_at = time.monotonic()
os.kill(victim, signal.SIGKILL)
try:
    job.wait(timeout=BOUND)
except subprocess.TimeoutExpired:
    os.killpg(job.pid, signal.SIGKILL)
    raise AssertionError(f"one rank killed: the job still ran {BOUND} s later")
ended_after = time.monotonic() - killed_at
assert job.returncode != 0, "the job ended with exit 0 after one of its ranks was killed"
time.sleep(1)
# Still running (zombies, the killed rank among them, are already gone: only not yet reaped).
alive = [line for line in subprocess.run(["ps", "-o", "pid=,stat=,cmd=", "-s", str(job.pid)], capture_output=True,
                                         text=True).stdout.splitlines() if line.split()[1][0] != "Z"]
assert not alive, "processes left running after the job ended:\n" + "\n".join(alive)
run_to_end(run_dir)
problems = outputs_equal(reference, run_dir)
assert not problems, f"one rank killed, rerun: {problems}"
print(f"one rank (pid {victim}) killed in training: the job ended (exit {job.returncode}) {ended_after:.1f} s later "
      f"(bound {BOUND:.0f} s); the rerun equals the uninterrupted run")
# ---------------------------------------------------------------- disk full at random points
def run_dir_bytes(path):
    return sum(os.path.getsize(os.path.join(folder, name)) for folder, _, names in os.walk(path) for name in names)


full_points = []
if args.disk_full:
    space = f"{ROOT}/tmpfs"
    os.makedirs(space)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "grlm-chaos-tmpfs", space]).returncode != 0:
        print("disk full: cannot mount a tmpfs here (not root?): skipped")
    else:
        try:
            needed = run_dir_bytes(reference)
            for point in range(args.disk_full):
                size_kib = max(64, int(needed * (0.1 + 0.85 * rng.random()) / 1024))
                run_dir = f"{space}/run"
                shutil.rmtree(run_dir, ignore_errors=True)  # first: a tmpfs does not shrink below what it holds
                subprocess.run(["mount", "-o", f"remount,size={size_kib}k", space], check=True)
                failed = subprocess.run(command(run_dir), capture_output=True, text=True, env=ENV)
                if failed.returncode == 0:
                    full_points.append(f"{size_kib} KiB: enough")
                    continue
                assert "no space left on device" in failed.stderr or "No space left on device" in failed.stderr, \
                    f"{size_kib} KiB: the failure does not say the disk is full:\n{failed.stderr[-3000:]}"
                stage = stage_of(failed.stderr)
                subprocess.run(["mount", "-o", f"remount,size={needed // 1024 * 3 + 4096}k", space], check=True)
                run_to_end(run_dir)
                problems = outputs_equal(reference, run_dir)
                assert not problems, f"disk full at {size_kib} KiB (in {stage}), rerun: {problems}"
                full_points.append(f"{size_kib} KiB: full in {stage}")
                print(f"disk full at {size_kib} KiB of {needed // 1024} (in {stage}): the error says so; with space the "
                      "rerun equals the uninterrupted run")
        finally:
            umount = subprocess.run(["umount", space], capture_output=True, text=True)
            if umount.returncode != 0:
                print(f"umount {space}: {umount.stderr.strip()}")

# ---------------------------------------------------------------- a store cut short
salvaged = []
for cut in range(args.cuts):
    run_dir = f"{ROOT}/cut-{cut}"
    shutil.copytree(reference, run_dir)
    store = f"{run_dir}/grlm.h5"
    size = os.path.getsize(store)
    keep = int(size * (0.02 + 0.96 * rng.random()))
    os.truncate(store, keep)
    rerun = run_to_end(run_dir)
    assert "rebuilding it from its complete stages" in rerun.stderr, f"cut at {keep} of {size}: no rebuild:\n{rerun.stderr[-2000:]}"
    kept = [line.split("run store rebuilt: kept ")[1].split(";")[0] for line in rerun.stderr.splitlines()
            if "run store rebuilt: kept " in line]
    damaged = [name for name in os.listdir(run_dir) if name.startswith("grlm.h5.damaged-")]
    assert len(damaged) == 1, f"cut at {keep} of {size}: the damaged store was not kept: {os.listdir(run_dir)}"
    problems = outputs_equal(reference, run_dir)
    assert not problems, f"store cut at {keep} of {size} bytes, rerun: {problems}"
    print(f"store cut at {keep} of {size} bytes: rebuilt keeping {kept[0] if kept else '?'}; the rerun equals the "
          "uninterrupted run")
    salvaged.extend(stage for stage in (kept[0] if kept else "").split(", ") if stage in ("embed", "similar", "extract"))
if args.cuts:
    # Not an HDF5 file at all: refused, never rebuilt or moved.
    run_dir = f"{ROOT}/foreign"
    os.makedirs(run_dir)
    with open(f"{run_dir}/grlm.h5", "w") as foreign:
        foreign.write("not a run store\n")
    refused = subprocess.run(command(run_dir), capture_output=True, text=True, env=ENV)
    assert refused.returncode == 1 and "grlm.h5" in refused.stderr and "signature" in refused.stderr, \
        f"a foreign grlm.h5 was not refused (exit {refused.returncode}):\n{refused.stderr[-2000:]}"
    assert sorted(os.listdir(run_dir)) == ["grlm.h5", "grlm.lock"] and open(f"{run_dir}/grlm.h5").read() == "not a run store\n", \
        f"a foreign grlm.h5 was changed: {os.listdir(run_dir)}"
    print("a grlm.h5 that is not HDF5: refused (exit 1), left as it was")
# The stages written first lie at the start of the file: cuts past them must keep them.
assert args.cuts < 3 or salvaged, "no cut of the store kept any complete stage"

# ---------------------------------------------------------------- two jobs on one run_dir
run_dir = f"{ROOT}/two-jobs"
with open(f"{ROOT}/first.log", "w") as log_file:
    first = subprocess.Popen(command(run_dir), stdout=subprocess.DEVNULL, stderr=log_file, env=ENV)
    wait_for_training(run_dir, first)
    second = subprocess.run(command(run_dir), capture_output=True, text=True, env=ENV)
    first.wait()
with open(f"{ROOT}/first.log") as log_file:
    first_log = log_file.read()
assert second.returncode == 1 and "is in use by another grlm" in second.stderr, \
    f"the second job was not refused (exit {second.returncode}):\n{second.stderr[-2000:]}"
assert first.returncode == 0, f"the first job failed beside the refused one:\n{first_log[-2000:]}"
problems = outputs_equal(reference, run_dir)
assert not problems, f"two jobs on one run_dir: {problems}"
print("two jobs on one run_dir: the second refused (exit 1, naming the first), the first finished equal to the "
      "uninterrupted run")
print(f"stages hit: {hit}")
print("check_chaos: all checks passed")
