#!/usr/bin/env bash
# Installs and builds grlm, writes the built-in synthetic dataset, and runs the pipeline on it
# with configs/demo.json on 2 ranks. Stages that are not built yet stop the run with exit code 3;
# the demo then shows the data and the run store so far.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1

build/grlm synth --items 1000 --users 2000 --seed 42 --out runs/demo/data
echo
echo "== a catalog item and two users of the synthetic data"
python3 -c "import json; c = json.load(open('runs/demo/data/catalog.json')); print(json.dumps(c['1'], indent=2))"
head -2 runs/demo/data/interactions.txt
echo
echo "== grlm run --config configs/demo.json (2 ranks): built-in embedder and keyword extractor, then build-sft"
status=0
mpirun -np 2 build/grlm run --config configs/demo.json || status=$?
if [ "$status" -eq 3 ]; then
  echo "(the pipeline stopped at a stage that is not built yet in this version)"
elif [ "$status" -ne 0 ]; then
  exit "$status"
fi
echo
build/grlm inspect runs/demo
echo
echo "== extraction report (runs/demo/extract/report.json) and three items' Term IDs"
python3 - <<'PY'
import json
report = json.load(open("runs/demo/extract/report.json"))
print({k: report[k] for k in ("items", "validity_rate", "distinct_tids", "collision_rate", "vocabulary_size")})
catalog = json.load(open("runs/demo/data/catalog.json"))
tids = json.load(open("runs/demo/extract/item_id2tid.json"))
for item in list(tids)[:3]:
    print(f"  {item}: {tids[item]}  <- {catalog[item]['title']}")
PY
echo
echo "== a sequence-prediction sample (LlamaFactory JSON, runs/demo/sft/sequence.json)"
python3 -c "import json; s = json.load(open('runs/demo/sft/sequence.json'))[0]; print(json.dumps(s, indent=2)[:1500])"
