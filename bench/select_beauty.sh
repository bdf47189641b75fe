#!/usr/bin/env bash
# Config selection on Beauty by the validation split only (issue 28), then one test evaluation of
# the chosen config per seed.
#
#   bench/select_beauty.sh validate CANDIDATES [RANKS]     every candidate on validation
#   bench/select_beauty.sh test NAME "SEEDS" [RANKS]       the chosen one, once per seed, on test
#
# CANDIDATES: one candidate per line, "NAME KEY=VALUE ..." (overrides of configs/beauty.json; '#'
# starts a comment), e.g. bench/candidates/beauty.txt. On validation a candidate is trained without
# each user's validation item (sft.train_on_validation=false) and evaluated on it
# (evaluate.split=validation); the last-item transition baseline is computed one step earlier alike
# (bench/compare_transition_baseline.py). Rows are appended to runs/select/validation.md (kept:
# every candidate tried, not only the winner). `test` trains NAME's overrides as the config is used
# (train_on_validation as configs/beauty.json has it), evaluates each seed once on test and
# appends to runs/select/test.md. Environment as bench/bench_quality_beauty.sh (GRLM, LAUNCH,
# BEAUTY_DATA, CONFIG).
set -euo pipefail
cd "$(dirname "$0")/.."
MODE="${1:?usage: bench/select_beauty.sh validate CANDIDATES [RANKS] | test NAME \"SEEDS\" [RANKS]}"
OUT=runs/select
mkdir -p "$OUT"
B="${BEAUTY_DATA:-../shared/data/beauty}"

row() {  # RUN NAME SEED TABLE: metrics, time, and the paired difference with the baseline
  python3 - "$1" "$2" "$3" "$4" "$B/sequential_data.txt" <<'PY'
import json, os, subprocess, sys
run, name, seed, table, interactions = sys.argv[1:6]
m = json.load(open(f"{run}/metrics.json"))
report = subprocess.run([sys.executable, "bench/compare_transition_baseline.py", interactions, run],
                        capture_output=True, text=True, check=True).stdout
open(f"{run}-vs-transition.txt", "w").write(report)
# The spec's baseline, with the same exclusion rule as the run when it has one.
section = report.split("\ngrlm vs ")[3 if m.get("exclude_seen") else 1]
lines = section.splitlines()
base = {int(l.split()[0]): (float(l.split()[2]), float(l.split()[4])) for l in lines if l[:3].strip().isdigit()}
diff10 = next(l for l in lines if l.startswith("R@10 grlm"))
interval = diff10.split("bootstrap 95% ")[1].split(")")[0]
seconds = ""
log = f"{run}.log"
if os.path.exists(log):
    for line in open(log):
        parts = line.split()
        if len(parts) == 3 and parts[0] == "train":
            seconds = parts[2]
new = not os.path.exists(table)
with open(table, "a") as out:
    if new:
        out.write("| candidate | seed | R@5 | R@10 | N@10 | R@20 | baseline R@5 | R@10 | N@10 | R@10 − baseline [95%] | train s |\n")
        out.write("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
    out.write(f"| {name} | {seed} | {m['recall@5']:.4f} | {m['recall@10']:.4f} | {m['ndcg@10']:.4f} | {m['recall@20']:.4f} | "
              f"{base[5][0]:.4f} | {base[10][0]:.4f} | {base[10][1]:.4f} | "
              f"{m['recall@10'] - base[10][0]:+.4f} {interval} | {seconds} |\n")
print(open(table).read())
PY
}

case "$MODE" in
  validate)
    CANDIDATES="${2:?candidates file}" RANKS="${3:-2}"
    grep -v '^\s*#' "$CANDIDATES" | grep -v '^\s*$' | while read -r name sets; do
      run="$OUT/val-$name"
      RUN="$run" GRLM_SETS="$sets sft.train_on_validation=false evaluate.split=validation" \
        bash bench/bench_quality_beauty.sh "$RANKS" 0 > "$run.bench.log" 2>&1 < /dev/null
      row "$run" "$name" "$(grep -o 'train.seed=[0-9]*' <<< "$sets" | cut -d= -f2 || true)" "$OUT/validation.md"
    done ;;
  test)
    NAME="${2:?candidate name}" SEEDS="${3:?seeds, e.g. \"42 7 1\"}" RANKS="${4:-2}" CANDIDATES="${CANDIDATES:-bench/candidates/beauty.txt}"
    grep -qE "^$NAME( |$)" "$CANDIDATES" || { echo "select_beauty: no candidate $NAME in $CANDIDATES" >&2; exit 2; }
    sets="$(awk -v n="$NAME" '$1 == n {$1 = ""; print}' "$CANDIDATES")"
    for seed in $SEEDS; do
      run="$OUT/test-$NAME-seed$seed"
      RUN="$run" GRLM_SETS="$sets train.seed=$seed" bash bench/bench_quality_beauty.sh "$RANKS" 0 > "$run.bench.log" 2>&1 < /dev/null
      row "$run" "$NAME" "$seed" "$OUT/test.md"
    done ;;
  record)  # RUN NAME: a validation run made by hand (bench_quality_beauty.sh with the settings above)
    row "${2:?run dir}" "${3:?name}" "" "$OUT/validation.md" ;;
  *) echo "usage: bench/select_beauty.sh validate CANDIDATES [RANKS] | test NAME \"SEEDS\" [RANKS]" >&2; exit 2 ;;
esac
