#!/usr/bin/env bash
# grlm on a real multi-node cluster made of namespaces on this machine (scripts/local_cluster.sh):
# ranks on different nodes talk TCP over the veths, ranks on one node shared memory; the run store
# is written by ranks on several hosts (parallel HDF5 over MPI-IO).
#
#   tests/cluster/check_cluster.sh GRLM SCRATCH [--full]
#
# Always (CI, a few minutes): the cluster comes up (2 nodes); Open MPI's transport between nodes
# is TCP (shared memory alone cannot reach the other node) and within a node shared memory; the
# demo pipeline (float64 training) on 2 nodes x 1 rank gives the same metrics.json and weights as
# 1 node x 2 ranks; one node's link cut during train ends every rank within the bound, the store
# keeps no stage complete that did not finish, and the rerun after the link is back resumes from
# the last checkpoint to the uninterrupted run's metrics and weights.
# --full adds: 2 nodes x 2 ranks against 1 node x 4 ranks and 1 rank; every process of one node
# SIGKILLed during similar and during evaluate (mpirun); Slurm across the nodes (sbatch + srun
# --mpi=pmix on 2 nodes: same metrics), and a --requeue job whose node is lost, requeued by
# Slurm onto the others, finishing with the same metrics.
# Skipped with a reason (exit 0) where network namespaces cannot be made (not root).
set -euo pipefail
GRLM="$(realpath "$1")" S="$(realpath -m "$2")" FULL="${3:-}"
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
CLUSTER="$ROOT/scripts/local_cluster.sh"
EXIT_BOUND_S=60  # a cut link or a lost node ends the job within this (measured: ~15 s)

if [ "$(id -u)" -ne 0 ]; then echo "cluster test skipped: needs root to make network namespaces"; exit 0; fi
if ! ip netns add "grlm-probe-$$" 2> /dev/null; then echo "cluster test skipped: cannot make network namespaces here"; exit 0; fi
ip netns delete "grlm-probe-$$"

fail() { echo "FAIL: $*"; exit 1; }
export GRLM_CLUSTER_DIR="$S/cluster" GRLM
"$CLUSTER" down > /dev/null 2>&1 || true  # a cluster a failed earlier run of this test left
if [ -d "$S" ] && [ -n "$(ls -A "$S")" ] && [ ! -f "$S/config.json" ] && [ ! -d "$S/data" ]; then
  fail "$S is not empty and not this test's scratch folder"
fi
rm -rf "$S" && mkdir -p "$S"
NODES=2; [ "$FULL" = --full ] && NODES=3
# On any exit: the background runs still going, then the cluster.
trap 'kill $(jobs -p) 2> /dev/null || true; "$CLUSTER" down > /dev/null 2>&1 || true' EXIT
cluster_env="$("$CLUSTER" up "$NODES")" || fail "the local cluster did not come up"
eval "$cluster_env"

same_metrics() {  # RUN_A RUN_B: metrics.json, but the model path
  python3 - "$1" "$2" <<'PY'
import json, sys
a, b = (json.load(open(f"{d}/metrics.json")) for d in sys.argv[1:3])
a.pop("model"); b.pop("model")
if a != b:
    print("metrics differ:", {k: (a[k], b.get(k)) for k in a if a[k] != b.get(k)})
    sys.exit(1)
PY
}
same_results() {  # RUN_A RUN_B: the metrics and the exported weights
  same_metrics "$1" "$2" || return 1
  cmp -s "$1/model/model.safetensors" "$2/model/model.safetensors" || { echo "weights differ: $1 $2"; return 1; }
}
# Stages the store marks complete (serial read: grlm inspect).
complete_stages() { "$GRLM" inspect "$1" 2> /dev/null | awk '/^stages:/ {s = 1; next} s && /^$/ {exit} s && $2 == "complete" {print $1}' | sort | tr '\n' ' '; }
on_cluster() {  # HOSTS NP RUN_DIR LOG [grlm run options ...]
  local hosts="$1" np="$2" run="$3" log="$4"; shift 4
  timeout 600 mpirun --host "$hosts" -np "$np" "$GRLM" run --config "$S/config.json" --set "run_dir=$run" "$@" > "$log" 2>&1
}
on_one_node() {  # NP RUN_DIR LOG: the same on this machine's own network, no namespaces
  local np="$1" run="$2" log="$3"
  timeout 600 env -u OMPI_MCA_plm_rsh_agent mpirun -np "$np" --oversubscribe "$GRLM" run --config "$S/config.json" \
    --set "run_dir=$run" > "$log" 2>&1
}
wait_for() {  # LOG PATTERN SECONDS
  for _ in $(seq $(($3 * 5))); do grep -q "$2" "$1" 2> /dev/null && return 0; sleep 0.2; done
  return 1
}

# ---------------------------------------------------------------- transport
"$GRLM" synth --items 300 --users 400 --seed 3 --out "$S/data" > /dev/null
probe="$(dirname "$GRLM")/tests/grlm_mpi_tests"
if [ -x "$probe" ]; then
  timeout 120 mpirun --host node1:1,node2:1 -np 2 --mca pml ob1 --mca btl self,tcp "$probe" --gtest_filter='Comm.*' > "$S/tcp.log" 2>&1 ||
    { cat "$S/tcp.log"; fail "TCP between nodes"; }
  if timeout 120 mpirun --host node1:1,node2:1 -np 2 --mca pml ob1 --mca btl self,vader "$probe" --gtest_filter='Comm.*' > "$S/vader.log" 2>&1; then
    fail "shared memory alone reached the other node: the nodes are not separate"
  fi
  grep -q "unreachable" "$S/vader.log" || { cat "$S/vader.log"; fail "expected Open MPI to find the other node unreachable by shared memory"; }
  timeout 120 mpirun --host node1:2 -np 2 --mca pml ob1 --mca btl self,vader "$probe" --gtest_filter='Comm.*' > "$S/vader1.log" 2>&1 ||
    { cat "$S/vader1.log"; fail "shared memory within a node"; }
  echo "transport: TCP between nodes (shared memory cannot reach them), shared memory within a node"
fi

# ---------------------------------------------------------------- the demo on 2 nodes
cat > "$S/config.json" <<CONF
{"data": {"catalog": "$S/data/catalog.json", "interactions": "$S/data/interactions.txt"},
 "train": {"arch": {"hidden_size": 64, "layers": 2, "heads": 4, "kv_heads": 2, "intermediate_size": 128, "head_dim": 16},
           "global_batch_size": 16, "micro_batch_size": 4, "max_steps": 60, "lr": 3e-3, "log_steps": 5, "save_steps": 10,
           "dtype": "float64"},
 "evaluate": {"max_users": 200, "num_beams": 10, "num_return_sequences": 10, "max_new_tokens": 16, "chunk_users": 16}}
CONF
on_cluster node1:1,node2:1 2 "$S/run-2x1" "$S/run-2x1.log" || { tail -30 "$S/run-2x1.log"; fail "pipeline on 2 nodes"; }
grep -q "world: 2 ranks on 2 nodes (node1: 0; node2: 1)" "$S/run-2x1.log" || fail "world line"
on_one_node 2 "$S/run-1x2" "$S/run-1x2.log" || { tail -30 "$S/run-1x2.log"; fail "pipeline on 1 node"; }
same_results "$S/run-2x1" "$S/run-1x2" || fail "2 nodes x 1 rank differs from 1 node x 2 ranks"
echo "demo on 2 nodes x 1 rank: same metrics.json and weights as 1 node x 2 ranks"

# ---------------------------------------------------------------- a link cut during train
(set +e; on_cluster node1:1,node2:1 2 "$S/run-cut" "$S/run-cut.log"; echo "exit=$?" >> "$S/run-cut.log") &
wait_for "$S/run-cut.log" "train: step 20/" 120 || { tail -20 "$S/run-cut.log"; fail "train did not get to step 20"; }
cut_at=$(date +%s.%N)
"$CLUSTER" cut node2
wait_for "$S/run-cut.log" "^exit=" "$EXIT_BOUND_S" || fail "the job did not end within $EXIT_BOUND_S s of the link cut"
wait
ended=$(python3 -c "print(round($(date +%s.%N) - $cut_at, 1))")
grep -q "^exit=0" "$S/run-cut.log" && fail "the job ended with exit 0 after its link was cut"
ranks_left() { for pid in $(ip netns pids "grlm-$1"); do ps -o comm= -p "$pid"; done | grep -c '^grlm$' || true; }
for _ in $(seq $((EXIT_BOUND_S * 5))); do [ "$(ranks_left node2)" -eq 0 ] && break; sleep 0.2; done
[ "$(ranks_left node2)" -eq 0 ] || fail "a rank on the cut-off node2 still runs $EXIT_BOUND_S s after mpirun ended"
"$CLUSTER" restore node2
[ "$(complete_stages "$S/run-cut")" = "build-sft embed extract similar " ] ||
  fail "after the cut the store shows complete: $(complete_stages "$S/run-cut")"
on_cluster node1:1,node2:1 2 "$S/run-cut" "$S/run-cut-rerun.log" || { tail -30 "$S/run-cut-rerun.log"; fail "rerun after the cut"; }
grep -q "train: resumed from the checkpoint of step" "$S/run-cut-rerun.log" || fail "the rerun did not resume train"
same_results "$S/run-2x1" "$S/run-cut" || fail "the resumed run differs from the uninterrupted one"
echo "link cut during train: every rank ended in ${ended} s (bound $EXIT_BOUND_S s, exit $(sed -n 's/^exit=//p' "$S/run-cut.log")); the rerun resumed ($(grep -o 'checkpoint of step [0-9]*' "$S/run-cut-rerun.log")) to the same metrics and weights"

[ "$FULL" = --full ] || { echo "cluster (short): all checks passed"; exit 0; }

# ---------------------------------------------------------------- 2 x 2 against 1 x 4 and 1
on_cluster node1:2,node2:2 4 "$S/run-2x2" "$S/run-2x2.log" || { tail -30 "$S/run-2x2.log"; fail "pipeline on 2 x 2"; }
on_one_node 4 "$S/run-1x4" "$S/run-1x4.log" || fail "pipeline on 1 x 4"
same_results "$S/run-2x2" "$S/run-1x4" || fail "2 nodes x 2 ranks differs from 1 node x 4 ranks"
echo "demo on 2 nodes x 2 ranks: same metrics.json and weights as 1 node x 4 ranks"
on_one_node 1 "$S/run-1x1" "$S/run-1x1.log" || fail "pipeline on 1 rank"
# One rank sums each step's gradients in another order than four (float64 rounding): the weights
# may differ in their last bits; the metrics are expected equal (a near-tie could flip a rank).
if same_metrics "$S/run-2x2" "$S/run-1x1"; then
  weights="weights $(cmp -s "$S/run-2x2/model/model.safetensors" "$S/run-1x1/model/model.safetensors" && echo identical || echo "differ in rounding")"
  echo "1 rank: same metrics.json as 2 nodes x 2 ranks ($weights)"
else
  fail "1 rank: metrics.json differs from 2 nodes x 2 ranks"
fi

# ---------------------------------------------------------------- a node killed during similar and evaluate
"$GRLM" synth --items 12000 --users 400 --seed 4 --out "$S/big" > /dev/null
kill_node_during() {  # STAGE PATTERN
  local stage="$1" pattern="$2" run="$S/run-kill-$1"
  (set +e; timeout 600 mpirun --host node1:1,node2:1 -np 2 "$GRLM" run --config "$S/config.json" --set "run_dir=$run" \
     --set "data.catalog=$S/big/catalog.json" --set embed.chunk_items=256 --set evaluate.chunk_users=4 > "$run.log" 2>&1
   echo "exit=$?" >> "$run.log") &
  wait_for "$run.log" "$pattern" 300 || { tail -20 "$run.log"; fail "did not reach $stage"; }
  local killed_at; killed_at=$(date +%s.%N)
  "$CLUSTER" kill node2
  wait_for "$run.log" "^exit=" "$EXIT_BOUND_S" || fail "the job did not end within $EXIT_BOUND_S s of node2's processes being killed"
  wait
  local ended; ended=$(python3 -c "print(round($(date +%s.%N) - $killed_at, 1))")
  "$CLUSTER" slurmd node2
  local done_stages; done_stages="$(complete_stages "$run")"
  [[ " $done_stages" != *" $stage "* ]] || fail "$stage complete after a kill during it"
  timeout 600 mpirun --host node1:1,node2:1 -np 2 "$GRLM" run --config "$S/config.json" --set "run_dir=$run" \
    --set "data.catalog=$S/big/catalog.json" --set embed.chunk_items=256 --set evaluate.chunk_users=4 > "$run-rerun.log" 2>&1 ||
    { tail -20 "$run-rerun.log"; fail "rerun after the kill in $stage"; }
  echo "$stage: node2's processes killed, every rank ended in ${ended} s; complete before: ${done_stages:-none}; rerun finished"
}
kill_node_during similar "stage similar: starting"
kill_node_during evaluate "stage evaluate: starting"
same_results "$S/run-kill-similar" "$S/run-kill-evaluate" || fail "the runs killed in similar and in evaluate end differently"
echo "both reruns: the same metrics and weights"

# ---------------------------------------------------------------- Slurm across the nodes
sinfo -N
sbatch_run() {  # NAME [sbatch options ...] -- grlm options
  local name="$1"; shift
  sbatch --parsable --nodes=2 --ntasks-per-node=1 --cpus-per-task=1 --gpus-per-node=0 --time=20 -D "$ROOT" \
    --output="$S/$name.out" "$@"
}
wait_job() {  # JOB_ID SECONDS: until it has left the queue
  for _ in $(seq "$2"); do
    state=$(scontrol show job "$1" 2> /dev/null | grep -o 'JobState=[A-Z_]*' | cut -d= -f2)
    case "$state" in COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY) echo "$state"; return 0 ;; esac
    sleep 1
  done
  echo "TIMEOUT_WAITING"
}
job=$(sbatch_run srun "$ROOT/slurm/grlm.sbatch" "$S/config.json" --set "run_dir=$S/run-slurm" --device cpu)
[ "$(wait_job "$job" 600)" = COMPLETED ] || { cat "$S/srun.out"; fail "sbatch across 2 nodes"; }
grep -q "world: 2 ranks on 2 nodes" "$S/srun.out" || fail "the Slurm job did not span 2 nodes"
same_results "$S/run-slurm" "$S/run-2x1" || fail "srun --mpi=pmix on 2 nodes differs from mpirun on 2 nodes"
echo "Slurm: sbatch --nodes=2 with srun --mpi=pmix: $(grep -o 'world: .*' "$S/srun.out"), same metrics and weights"

job=$(sbatch_run requeue --requeue --open-mode=append "$ROOT/slurm/grlm.sbatch" "$S/config.json" --set "run_dir=$S/run-requeue" --device cpu)
wait_for "$S/requeue.out" "train: step 10/" 300 || { cat "$S/requeue.out"; fail "the requeue job did not reach train"; }
victim=$(scontrol show hostnames "$(scontrol show job "$job" | grep -o ' NodeList=[^ ]*' | cut -d= -f2)" | tail -1)
"$CLUSTER" kill "$victim"
[ "$(wait_job "$job" 600)" = COMPLETED ] || { cat "$S/requeue.out"; scontrol show job "$job"; fail "the requeued job did not finish"; }
restarts=$(scontrol show job "$job" | grep -o 'Restarts=[0-9]*' | cut -d= -f2)
[ "${restarts:-0}" -ge 1 ] || fail "the job was not requeued"
"$CLUSTER" slurmd "$victim"
same_results "$S/run-requeue" "$S/run-2x1" || fail "the requeued job differs"
echo "Slurm --requeue: $victim lost during train, job requeued ($restarts restart) onto $(scontrol show job "$job" | grep -o ' NodeList=[^ ]*' | cut -d= -f2), finished with the same metrics and weights"
echo "cluster (full): all checks passed"
