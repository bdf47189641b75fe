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
# every candidate tried, not only the winner). A candidate that differs from one already trained
# only in evaluate.* keys (decoding) starts from a copy of that run: training is not repeated
# (its row says which run it reused). A candidate with a row already is not run again. `test` trains NAME's overrides as the config is used
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
def difference(metric):  # "+0.0068 [+0.0030, +0.0106]": the paired difference and its 95% interval
    line = next(l for l in lines if l.startswith(f"{metric} grlm"))
    return line.split(": ")[1].split(" (")[0] + " " + line.split("bootstrap 95% ")[1].split(")")[0]
seconds = {"train": "", "evaluate": ""}
log = f"{run}.log"
if os.path.exists(log):
    for line in open(log):
        parts = line.split()  # the run's closing table: "STAGE ran SECONDS"
        if len(parts) == 3 and parts[0] in seconds:
            seconds[parts[0]] = parts[2] if parts[1] == "ran" else parts[1]
new = not os.path.exists(table)
with open(table, "a") as out:
    if new:
        out.write("| candidate | seed | R@5 | R@10 | N@10 | R@20 | baseline R@5 | R@10 | N@10 | "
                  "R@5 − baseline [95%] | R@10 − baseline [95%] | N@10 − baseline [95%] | train s | evaluate s |\n")
        out.write("|" + " --- |" * 14 + "\n")
    out.write(f"| {name} | {seed} | {m['recall@5']:.4f} | {m['recall@10']:.4f} | {m['ndcg@10']:.4f} | {m['recall@20']:.4f} | "
              f"{base[5][0]:.4f} | {base[10][0]:.4f} | {base[10][1]:.4f} | "
              f"{difference('R@5')} | {difference('R@10')} | {difference('N@10')} | {seconds['train']} | {seconds['evaluate']} |\n")
print(open(table).read())
PY
}

case "$MODE" in
  validate)
    CANDIDATES="${2:?candidates file}" RANKS="${3:-2}"
    grep -v '^\s*#' "$CANDIDATES" | grep -v '^\s*$' | while read -r name sets; do
      run="$OUT/val-$name"
      if [ -e "$OUT/validation.md" ] && grep -q "^| $name[ |]" "$OUT/validation.md"; then
        echo "select_beauty: $name has its validation row already" >&2
        continue
      fi
      # What training sees: the overrides without the decoding ones, in one order.
      train_key="$(tr ' ' '\n' <<< "$sets" | { grep -v -e '^evaluate\.' -e '^$' || true; } | sort | tr '\n' ' ')"
      reused=""
      if [ ! -e "$run/train-key" ]; then
        for done_key in "$OUT"/val-*/train-key; do
          [ -e "$done_key" ] && [ "$(cat "$done_key")" = "$train_key" ] && [ -e "$(dirname "$done_key")/model/config.json" ] || continue
          reused="$(dirname "$done_key")"
          mkdir -p "$run" && cp -r "$reused/grlm.h5" "$reused/sft" "$reused/train" "$reused/model" "$run/"
          break
        done
      fi
      mkdir -p "$run" && printf '%s' "$train_key" > "$run/train-key"
      RUN="$run" GRLM_SETS="$sets sft.train_on_validation=false evaluate.split=validation" \
        bash bench/bench_quality_beauty.sh "$RANKS" 0 > "$run.bench.log" 2>&1 < /dev/null
      row "$run" "$name${reused:+ (training of $(basename "$reused"))}" \
        "$(grep -o 'train.seed=[0-9]*' <<< "$sets" | cut -d= -f2 || true)" "$OUT/validation.md"
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
