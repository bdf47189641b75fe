#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite through CTest, including the
# multi-rank tests (mpirun -np 2 and 3). Extra arguments go to ctest (e.g. -R process).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The tests compare grlm with the Hugging Face reference libraries (test oracles only).
python3 -m pip install --quiet --disable-pip-version-check -r tests/requirements.txt
# Open MPI refuses to start as root unless told; --oversubscribe lets 2-3 ranks share 2 cores.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
cd build
ctest --output-on-failure "$@"
