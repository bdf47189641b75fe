#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite through CTest, including the
# multi-rank tests (mpirun -np 2 and 3). Extra arguments go to ctest (e.g. -R process).
set -euo pipefail
cd "$(dirname "$0")/.."
# The tests compare grlm with the Hugging Face reference libraries and PyTorch (test oracles only),
# installed first: setup.sh then links the libtorch of that same torch.
source scripts/versions.sh
if ! python3 -m pip --version > /dev/null 2>&1; then  # Debian's python3 comes without pip
  $([ "$(id -u)" -eq 0 ] || echo sudo) apt-get update -qq
  $([ "$(id -u)" -eq 0 ] || echo sudo) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-pip > /dev/null
fi
python3 -m pip install --quiet --disable-pip-version-check "torch==${GRLM_TORCH_VERSION:-$GRLM_TORCH_VERSION_PIN}" \
  -r tests/requirements.txt
bash scripts/setup.sh
# Open MPI refuses to start as root unless told; --oversubscribe lets 2-3 ranks share 2 cores.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
cd build
ctest --output-on-failure "$@"
