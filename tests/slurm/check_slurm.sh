#!/usr/bin/env bash
# A real single-node Slurm (Debian slurm-wlm + munge on loopback, docs: ../shared/docs/LOCAL-SLURM.md)
# started by the test: slurm/grlm.sbatch runs the pipeline on 2 ranks with srun --mpi=pmix and with
# mpirun; a job stopped part-way (train.stop_after_steps, exit 75) is resumed by the next job; and
# slurm/scaling.sh collects the stage timings of a sweep into one table.
# Usage: tests/slurm/check_slurm.sh GRLM SCRATCH   (root; installs slurm-wlm and munge when missing)
set -euo pipefail
GRLM="$(realpath "$1")" S="$2"
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
if ! command -v slurmctld > /dev/null || ! command -v munged > /dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q slurm-wlm munge > /dev/null 2>&1 || { apt-get update -qq && apt-get install -y -q slurm-wlm munge > /dev/null; }
fi
rm -rf "$S" && mkdir -p "$S/state" "$S/spool" "$S/jobs"
host="$(hostname)"
cat > "$S/slurm.conf" <<CONF
ClusterName=grlmtest
SlurmctldHost=$host
Include $ROOT/scripts/slurm_local.conf
StateSaveLocation=$S/state
SlurmdSpoolDir=$S/spool
SlurmctldPidFile=$S/slurmctld.pid
SlurmdPidFile=$S/slurmd.pid
SlurmctldLogFile=$S/slurmctld.log
SlurmdLogFile=$S/slurmd.log
NodeName=$host CPUs=$(nproc) State=UNKNOWN
PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$S/slurm.conf"
bash "$ROOT/scripts/start_munge.sh"
stop() {
  for pid_file in "$S/slurmd.pid" "$S/slurmctld.pid"; do
    [ -f "$pid_file" ] && kill "$(cat "$pid_file")" 2> /dev/null || true
  done
}
trap stop EXIT
slurmctld -f "$S/slurm.conf"
slurmd -f "$S/slurm.conf"
for _ in $(seq 60); do
  sinfo -h -o %T 2> /dev/null | grep -qE "idle|mixed" && break
  sleep 1
done
sinfo

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 GRLM
"$GRLM" synth --items 60 --users 60 --seed 5 --out "$S/data" > /dev/null
cat > "$S/config.json" <<CONF
{"data": {"catalog": "$S/data/catalog.json", "interactions": "$S/data/interactions.txt",
          "tids": "$S/data/synthetic_item_id2tid.json"},
 "train": {"arch": {"hidden_size": 32, "layers": 1, "heads": 2, "kv_heads": 1, "intermediate_size": 64, "head_dim": 16},
           "global_batch_size": 8, "micro_batch_size": 2, "max_steps": 12, "lr": 5e-3, "log_steps": 4},
 "evaluate": {"max_users": 16, "num_beams": 4, "num_return_sequences": 4, "max_new_tokens": 12, "chunk_users": 4}}
CONF
# The script asks for 8 GPUs and 8 tasks of 8 CPUs per node; this node has 2 CPUs and no GPU.
small=(--wait --nodes=1 --ntasks-per-node=2 --cpus-per-task=1 --gpus-per-node=0 --time=10 -D "$ROOT")
submit() {  # OUTPUT_NAME [sbatch args ...] -- [grlm run options ...]
  local name="$1"; shift
  sbatch "${small[@]}" --output="$S/jobs/$name.out" "$@"
}
check_done() {
  grep -q "stage evaluate: complete" "$S/jobs/$1.out" || { cat "$S/jobs/$1.out"; echo "job $1 did not finish"; exit 1; }
  grep -q "Recall@K" "$S/jobs/$1.out"
  test -s "$2/metrics.json"
}

submit srun "$ROOT/slurm/grlm.sbatch" "$S/config.json" --set "run_dir=$S/run-srun" --device cpu
check_done srun "$S/run-srun"
echo "srun --mpi=pmix: ok ($(grep -c 'rank . on' "$S/jobs/srun.out" || true) rank lines)"
GRLM_LAUNCHER=mpirun submit mpirun --export=ALL "$ROOT/slurm/grlm.sbatch" "$S/config.json" --set "run_dir=$S/run-mpirun" --device cpu
check_done mpirun "$S/run-mpirun"
cmp <(python3 -c "import json; m = json.load(open('$S/run-srun/metrics.json')); m.pop('model'); print(m)") \
    <(python3 -c "import json; m = json.load(open('$S/run-mpirun/metrics.json')); m.pop('model'); print(m)")
echo "mpirun inside the allocation: ok, same metrics"

# A job that stops part-way (as at a time limit), then the next job resumes it.
submit part1 "$ROOT/slurm/grlm.sbatch" "$S/config.json" --set "run_dir=$S/run-resume" --device cpu \
  --set train.stop_after_steps=5 || true
grep -q "stopped after 5 steps" "$S/jobs/part1.out" || { cat "$S/jobs/part1.out"; exit 1; }
submit part2 "$ROOT/slurm/grlm.sbatch" "$S/config.json" --set "run_dir=$S/run-resume" --device cpu
grep -q "resumed from the checkpoint of step 5" "$S/jobs/part2.out" || { cat "$S/jobs/part2.out"; exit 1; }
check_done part2 "$S/run-resume"
cmp <(python3 -c "import json; m = json.load(open('$S/run-srun/metrics.json')); m.pop('model'); print(m)") \
    <(python3 -c "import json; m = json.load(open('$S/run-resume/metrics.json')); m.pop('model'); print(m)")
echo "resumed across jobs: ok, same metrics as one job"

# The scaling sweep: 1 and 2 ranks on this node, one table of stage timings.
SBATCH_EXTRA="--cpus-per-task=1 --gpus-per-node=0 --time=10" bash "$ROOT/slurm/scaling.sh" "$S/config.json" "$S/scaling" "1x1 1x2" \
  --device cpu | tee "$S/scaling.txt"
grep -qE "^1x2 " "$S/scaling.txt" && grep -q "evaluate" "$S/scaling.txt"
echo "slurm: all checks passed"
