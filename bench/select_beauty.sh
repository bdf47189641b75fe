#!/usr/bin/env bash
# Config selection on Beauty by the validation split only (issue 28), then one test evaluation of
# the chosen config per seed.
#
#   bench/select_beauty.sh validate CANDIDATES [RANKS]     every candidate on validation
#   bench/select_beauty.sh train NAME "SEEDS" [RANKS]      its training per seed, ahead of `test`
#   bench/select_beauty.sh test NAME "SEEDS" [RANKS]       the chosen one, once per seed, on test
#
# CANDIDATES: one candidate per line, "NAME KEY=VALUE ..." (overrides of configs/beauty.json; '#'
# starts a comment), e.g. bench/candidates/beauty.txt. On validation a candidate is trained without
# each user's validation item (sft.train_on_validation=false) and evaluated on it
# (evaluate.split=validation); the last-item transition baseline is computed one step earlier alike
# (bench/compare_transition_baseline.py). Rows are appended to runs/select/validation.md (kept:
# every candidate tried, not only the winner; a candidate with a row is not run again). `test`
# trains NAME's overrides as the config is used (train_on_validation as configs/beauty.json has
# it), evaluates each seed once on test and appends to runs/select/test.md. A run whose training
# overrides (all but evaluate.*) equal those of a run already trained in runs/select starts from a
# copy of it: decoding-only candidates, and seeds trained ahead with `train`, are not trained again
# (the row names the run reused and gives its training time). Environment as
# bench/bench_quality_beauty.sh (GRLM, LAUNCH, BEAUTY_DATA, CONFIG).
set -euo pipefail
cd "$(dirname "$0")/.."
MODE="${1:?usage: bench/select_beauty.sh validate CANDIDATES [RANKS] | train NAME \"SEEDS\" [RANKS] | test NAME \"SEEDS\" [RANKS]}"
OUT=runs/select
mkdir -p "$OUT"
B="${BEAUTY_DATA:-../shared/data/beauty}"

row() {  # RUN NAME SEED TABLE [TRAINED]: metrics, time, and the paired difference with the baseline
  python3 - "$1" "$2" "$3" "$4" "$B/sequential_data.txt" "${5:-}" <<'PY'
import json, os, subprocess, sys
run, name, seed, table, interactions, trained = sys.argv[1:7]
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
for log in [f"{trained}.log"] * bool(trained) + [f"{run}.log"]:  # training reused: its time is the trained run's
    if os.path.exists(log):
        for line in open(log):
            parts = line.split()  # the run's closing table: "STAGE ran SECONDS"
            if len(parts) == 3 and parts[0] in seconds and parts[1] == "ran":
                seconds[parts[0]] = parts[2]
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

# What training sees, in one order: the overrides without the decoding ones (evaluate.*).
training_key() { tr ' ' '\n' <<< "$1" | { grep -v -e '^evaluate\.' -e '^$' || true; } | sort | tr '\n' ' '; }

# RUN SETS: RUN starts from a copy of a run in $OUT trained with the same training key, when
# there is one (decoding-only candidates, or a seed trained ahead with `train`); prints its name.
reuse_training() {
  local run="$1" key; key="$(training_key "$2")"
  if [ ! -e "$run/train-key" ]; then
    for done_key in "$OUT"/*/train-key; do
      local trained; trained="$(dirname "$done_key")"
      [ -e "$done_key" ] && [ "$(cat "$done_key")" = "$key" ] && [ -e "$trained/model/config.json" ] || continue
      mkdir -p "$run" && cp -r "$trained/grlm.h5" "$trained/sft" "$trained/train" "$trained/model" "$run/"
      basename "$trained"
      break
    done
  fi
  mkdir -p "$run" && printf '%s' "$key" > "$run/train-key"
}

candidate_sets() {  # CANDIDATES NAME: the candidate's overrides
  grep -qE "^$2( |$)" "$1" || { echo "select_beauty: no candidate $2 in $1" >&2; exit 2; }
  awk -v n="$2" '$1 == n {$1 = ""; print}' "$1"
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
      sets="$sets sft.train_on_validation=false evaluate.split=validation"
      reused="$(reuse_training "$run" "$sets")"
      RUN="$run" GRLM_SETS="$sets" bash bench/bench_quality_beauty.sh "$RANKS" 0 > "$run.bench.log" 2>&1 < /dev/null
      row "$run" "$name${reused:+ (training of $reused)}" "$(grep -o 'train.seed=[0-9]*' <<< "$sets" | cut -d= -f2 || true)" \
        "$OUT/validation.md" "${reused:+$OUT/$reused}"
    done ;;
  train)  # NAME "SEEDS": train the candidate as used, per seed, without evaluating (test reuses it)
    NAME="${2:?candidate name}" SEEDS="${3:?seeds}" RANKS="${4:-2}" CANDIDATES="${CANDIDATES:-bench/candidates/beauty.txt}"
    sets="$(candidate_sets "$CANDIDATES" "$NAME")"
    B="${BEAUTY_DATA:-../shared/data/beauty}"
    read -r -a LAUNCHER <<< "${LAUNCH-mpirun -np $RANKS --oversubscribe}"
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
    for seed in $SEEDS; do
      run="$OUT/train-$NAME-seed$seed"
      SETS=()
      for assignment in $sets train.seed=$seed; do SETS+=(--set "$assignment"); done
      "${LAUNCHER[@]}" "${GRLM:-build/grlm}" run --config "${CONFIG:-configs/beauty.json}" --set "run_dir=$run" \
        --set "data.interactions=$B/sequential_data.txt" --set "data.tids=$B/beauty_item_id2tid.json" \
        --set "data.neighbours=$B/similar_item_sasrec_num.txt" "${SETS[@]}" --until train > "$run.log" 2>&1 < /dev/null
      printf '%s' "$(training_key "$sets train.seed=$seed")" > "$run/train-key"
    done ;;
  test)
    NAME="${2:?candidate name}" SEEDS="${3:?seeds, e.g. \"42 7 1\"}" RANKS="${4:-2}" CANDIDATES="${CANDIDATES:-bench/candidates/beauty.txt}"
    sets="$(candidate_sets "$CANDIDATES" "$NAME")"
    for seed in $SEEDS; do
      run="$OUT/test-$NAME-seed$seed"
      reused="$(reuse_training "$run" "$sets train.seed=$seed")"
      RUN="$run" GRLM_SETS="$sets train.seed=$seed" bash bench/bench_quality_beauty.sh "$RANKS" 0 > "$run.bench.log" 2>&1 < /dev/null
      row "$run" "$NAME${reused:+ (training of $reused)}" "$seed" "$OUT/test.md" "${reused:+$OUT/$reused}"
    done ;;
  record)  # RUN NAME: a validation run made by hand (bench_quality_beauty.sh with the settings above)
    row "${2:?run dir}" "${3:?name}" "" "$OUT/validation.md" ;;
  *) echo "usage: bench/select_beauty.sh validate CANDIDATES [RANKS] | train NAME \"SEEDS\" [RANKS] | test NAME \"SEEDS\" [RANKS]" >&2
     exit 2 ;;
esac
