#!/usr/bin/env bash
# Quality benchmark (issue 6): configs/beauty.json — a small from-scratch Qwen3 (word-level
# tokenizer) trained on the released Beauty TIDs and SASRec neighbours, evaluated on every test
# user (leave-one-out, full ranking) — with mpirun -np 2 on this machine. Prints the metrics beside
# the spec's table and writes runs/beauty/train/curve.png. Data: ../shared/data/beauty (users get
# the same files with scripts/download_data.sh). Usage: bench/bench_quality_beauty.sh [RANKS]
set -euo pipefail
cd "$(dirname "$0")/.."
RANKS="${1:-2}" B=../shared/data/beauty RUN=runs/beauty
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
start=$(date +%s)
mpirun -np "$RANKS" --oversubscribe build/grlm run --config configs/beauty.json --set "run_dir=$RUN" \
  --set "data.interactions=$B/sequential_data.txt" --set "data.tids=$B/beauty_item_id2tid.json" \
  --set "data.neighbours=$B/similar_item_sasrec_num.txt" 2>&1 | tee "$RUN.log"
end=$(date +%s)
if python3 -c "import matplotlib" 2> /dev/null; then python3 scripts/plot_train.py "$RUN"; fi
python3 - "$RUN" "$((end - start))" "$RANKS" <<'PY'
import json, sys
run, seconds, ranks = sys.argv[1], int(sys.argv[2]), sys.argv[3]
m = json.load(open(f"{run}/metrics.json"))
with open(f"{run}.log") as log:
    stages = {line.split()[0]: line.split()[-1] for line in log if line.split() and line.split()[0] in ("build-sft", "train", "evaluate") and line.split()[-1].replace(".", "").isdigit()}
rows = [("most popular", 0.0073, 0.0133), ("last-item transition", 0.0573, 0.0718), ("SASRec", 0.0387, 0.0605),
        ("TIGER", 0.0454, 0.0648), ("GRLM (Qwen3-4B, 8xA100)", 0.0607, 0.0846)]
print(f"\nBeauty test, {m['num_users']} users, {m['grounding']} grounding, {ranks} CPU ranks, {seconds} s in all "
      f"(train {stages.get('train', '?')} s, evaluate {stages.get('evaluate', '?')} s)")
print(f"{'model':34s} {'R@5':>7s} {'R@10':>7s} {'N@5':>7s} {'N@10':>7s}")
for name, r5, r10 in rows:
    print(f"{name:34s} {r5:7.4f} {r10:7.4f}")
print(f"{'grlm configs/beauty.json':34s} {m['recall@5']:7.4f} {m['recall@10']:7.4f} {m['ndcg@5']:7.4f} {m['ndcg@10']:7.4f}")
PY
