#!/usr/bin/env bash
# Scaling sweep on a Slurm cluster: runs the whole pipeline once per shape with
# slurm/grlm.sbatch (sbatch --wait, a fresh run_dir each) and prints one table of stage timings.
#
#   slurm/scaling.sh CONFIG BASE_DIR "NODESxTASKS_PER_NODE ..." [grlm run options ...]
#   slurm/scaling.sh configs/beauty-qwen3-4b.json /shared/scaling "1x8 2x8 4x8 8x8"
#
# SBATCH_EXTRA adds sbatch options to every job (e.g. "--partition=gpu --time=12:00:00").
# The table is also written to BASE_DIR/scaling.tsv, then one table per stage (seconds, speed-up
# over the first shape, efficiency = speed-up / rank ratio) to BASE_DIR/scaling-per-stage.txt.
set -euo pipefail
CONFIG="${1:?usage: slurm/scaling.sh CONFIG BASE_DIR \"NODESxTASKS ...\" [grlm run options]}"
BASE="${2:?base directory for the runs (shared filesystem)}"
SHAPES="${3:?shapes, e.g. \"1x8 2x8\"}"
shift 3
HERE="$(cd "$(dirname "$0")" && pwd)"
STAGES=(embed similar extract build-sft train evaluate)
mkdir -p "$BASE"
read -r -a extra <<< "${SBATCH_EXTRA:-}"
printf "%-8s" shape > "$BASE/scaling.tsv.partial"
for stage in "${STAGES[@]}"; do printf "\t%s" "$stage" >> "$BASE/scaling.tsv.partial"; done
printf "\ttotal\trecall@10\n" >> "$BASE/scaling.tsv.partial"
for shape in $SHAPES; do
  nodes="${shape%x*}" tasks="${shape#*x}"
  run_dir="$BASE/$shape" out="$BASE/$shape.out"
  rm -rf "$run_dir"
  status=0
  sbatch --wait --nodes="$nodes" --ntasks-per-node="$tasks" "${extra[@]}" --output="$out" \
    "$HERE/grlm.sbatch" "$CONFIG" --set "run_dir=$run_dir" "$@" > /dev/null || status=$?
  printf "%-8s" "$shape" >> "$BASE/scaling.tsv.partial"
  total=0
  for stage in "${STAGES[@]}"; do
    # The driver's closing table: "stage  action  seconds".
    seconds=$(awk -v s="$stage" '$1 == s && NF >= 3 && $NF ~ /^[0-9.]+$/ {v = $NF} END {print v}' "$out")
    printf "\t%s" "${seconds:--}" >> "$BASE/scaling.tsv.partial"
    total=$(python3 -c "print(round($total + ${seconds:-0}, 2))")
  done
  recall=$(python3 -c "import json; print(json.load(open('$run_dir/metrics.json'))['recall@10'])" 2> /dev/null || echo "-")
  [ "$status" -eq 0 ] || recall="job exit $status"
  printf "\t%s\t%s\n" "$total" "$recall" >> "$BASE/scaling.tsv.partial"
done
mv "$BASE/scaling.tsv.partial" "$BASE/scaling.tsv"
column -t -s $'\t' "$BASE/scaling.tsv"
# Then one table per stage: time, speed-up over the first shape, efficiency (speed-up / rank ratio).
python3 - "$BASE/scaling.tsv" <<'PY' | tee "$BASE/scaling-per-stage.txt"
import sys
rows = [line.rstrip("\n").split("\t") for line in open(sys.argv[1])]
header, rows = rows[0], rows[1:]
def ranks(shape):
    nodes, tasks = shape.strip().split("x")
    return int(nodes) * int(tasks)
for column, stage in enumerate(header[1:-1], start=1):
    base = next((r for r in rows if r[column] not in ("-", "")), None)
    if base is None:
        continue
    print(f"\n{stage}\n{'shape':<8} {'ranks':>5} {'seconds':>9} {'speed-up':>9} {'efficiency':>10}")
    for r in rows:
        if r[column] in ("-", "") or float(r[column]) <= 0:
            print(f"{r[0].strip():<8} {ranks(r[0]):>5} {'-':>9}")
            continue
        speedup = float(base[column]) / float(r[column])
        efficiency = speedup / (ranks(r[0]) / ranks(base[0]))
        print(f"{r[0].strip():<8} {ranks(r[0]):>5} {float(r[column]):>9.2f} {speedup:>9.2f} {efficiency:>10.2f}")
PY
