#!/usr/bin/env bash
# The chaos run of issue 23: the synthetic pipeline killed with SIGKILL at POINTS seeded moments
# (dealt over every stage) at np 2 and np 3, each rerun compared byte for byte with an
# uninterrupted run; one rank killed alone (the job must end within 30 s); two jobs on one
# run_dir; FULL runs on a tmpfs too small for them (root); and CUTS copies of the finished store
# cut short at seeded points. Writes the log of each world size to runs/chaos-np*.log.
# Usage: bench/bench_chaos.sh [POINTS] [FULL] [SEED] [CUTS]
set -euo pipefail
cd "$(dirname "$0")/.."
POINTS="${1:-24}" FULL="${2:-10}" SEED="${3:-7}" CUTS="${4:-10}"
mkdir -p runs
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
for ranks in 2 3; do
  python3 tests/oracle/check_chaos.py build/grlm "$(command -v mpirun)" "runs/chaos-np$ranks" \
    --ranks "$ranks" --points "$POINTS" --disk-full "$FULL" --cuts "$CUTS" --seed "$SEED" | tee "runs/chaos-np$ranks.log"
done
