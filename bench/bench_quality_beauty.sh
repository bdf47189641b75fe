#!/usr/bin/env bash
# Quality benchmark (issue 6): configs/beauty.json — a small from-scratch Qwen3 (word-level
# tokenizer) trained on the released Beauty TIDs and SASRec neighbours, evaluated on every test
# user (leave-one-out, full ranking) — with mpirun -np 2 on this machine. Prints the metrics beside
# the spec's table and writes runs/beauty/train/curve.png. Data: ../shared/data/beauty (users get
# the same files with scripts/download_data.sh). Then Recall@10 against training time: every
# export of train.export_steps (and the final model) evaluated on the first CURVE_USERS test
# users, plotted to runs/beauty/recall_vs_time.png. The paired comparison with the last-item
# transition baseline goes to runs/beauty-vs-transition.txt.
# Usage: bench/bench_quality_beauty.sh [RANKS] [CURVE_USERS (default 1000; 0 skips the curve)]
# Environment (the GPU session, scripts/gpu_session.sh, sets them): GRLM (the binary, default
# build/grlm), LAUNCH (how ranks start, default "mpirun -np RANKS --oversubscribe"; empty: one
# process), BEAUTY_DATA (default ../shared/data/beauty), RUN (default runs/beauty), CONFIG
# (default configs/beauty.json), GRLM_SETS (extra --set overrides, space-separated k=v).
set -euo pipefail
cd "$(dirname "$0")/.."
RANKS="${1:-2}" CURVE_USERS="${2:-1000}"
B="${BEAUTY_DATA:-../shared/data/beauty}" RUN="${RUN:-runs/beauty}" CONFIG="${CONFIG:-configs/beauty.json}"
read -r -a LAUNCHER <<< "${LAUNCH-mpirun -np $RANKS --oversubscribe}"
GRLM="${GRLM:-build/grlm}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mkdir -p "$(dirname "$RUN")"
start=$(date +%s)
DATA=(--set "data.interactions=$B/sequential_data.txt" --set "data.tids=$B/beauty_item_id2tid.json"
      --set "data.neighbours=$B/similar_item_sasrec_num.txt")
for assignment in ${GRLM_SETS:-}; do DATA+=(--set "$assignment"); done
"${LAUNCHER[@]}" "$GRLM" run --config "$CONFIG" --set "run_dir=$RUN" "${DATA[@]}" 2>&1 | tee "$RUN.log"
end=$(date +%s)
if python3 -c "import matplotlib" 2> /dev/null; then python3 scripts/plot_train.py "$RUN"; fi
python3 - "$RUN" "$((end - start))" "$RANKS" "$CONFIG ${GRLM_SETS:-}" <<'PY'
import json, sys
run, seconds, ranks = sys.argv[1], int(sys.argv[2]), sys.argv[3]
m = json.load(open(f"{run}/metrics.json"))
with open(f"{run}.log") as log:
    stages = {line.split()[0]: line.split()[-1] for line in log if line.split() and line.split()[0] in ("build-sft", "train", "evaluate") and line.split()[-1].replace(".", "").isdigit()}
rows = [("most popular", 0.0073, 0.0133), ("last-item transition", 0.0573, 0.0718), ("SASRec", 0.0387, 0.0605),
        ("TIGER", 0.0454, 0.0648), ("GRLM (Qwen3-4B, 8xA100)", 0.0607, 0.0846)]
print(f"\nBeauty {m.get('split', 'test')}, {m['num_users']} users, {m['grounding']} grounding, {ranks} ranks, {seconds} s in all "
      f"(train {stages.get('train', '?')} s, evaluate {stages.get('evaluate', '?')} s)")
print(f"{'model':34s} {'R@5':>7s} {'R@10':>7s} {'N@5':>7s} {'N@10':>7s}")
for name, r5, r10 in rows:
    print(f"{name:34s} {r5:7.4f} {r10:7.4f}")
print(f"{'grlm ' + sys.argv[4]:34s} {m['recall@5']:7.4f} {m['recall@10']:7.4f} {m['ndcg@5']:7.4f} {m['ndcg@10']:7.4f}")
PY

# The spec's last-item transition baseline recomputed on the same users (it reproduces the spec's
# figures) and the paired difference: bootstrap interval and McNemar's test per K.
python3 bench/compare_transition_baseline.py "$B/sequential_data.txt" "$RUN" | tee "$RUN-vs-transition.txt"

[ "$CURVE_USERS" -gt 0 ] || exit 0
# The curve's evaluations run in a copy of the run (its store and SFT files), so the run's own
# full evaluation stays as it is; evaluate.model points at each export in turn.
CURVE=$RUN-curve
rm -rf "$CURVE" && mkdir -p "$CURVE/points" && cp -r "$RUN/grlm.h5" "$RUN/sft" "$CURVE/"
for model in "$RUN"/train/exports/step-* "$RUN/model"; do
  "${LAUNCHER[@]}" "$GRLM" evaluate --config "$CONFIG" --set "run_dir=$CURVE" "${DATA[@]}" \
    --set "evaluate.model=$model" --set "evaluate.max_users=$CURVE_USERS" > "$CURVE/$(basename "$model").log" 2>&1
  cp "$CURVE/metrics.json" "$CURVE/points/$(basename "$model").json"
done
python3 scripts/plot_quality_curve.py "$RUN" "$CURVE/points" && cat "$RUN/recall_vs_time.csv"
