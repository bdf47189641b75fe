#!/usr/bin/env bash
# Scaling across the nodes of the namespace cluster (scripts/local_cluster.sh, 4 nodes): the
# pipeline through Slurm (slurm/scaling.sh: sbatch + srun --mpi=pmix) at 1, 2 and 4 nodes, and at
# the same rank counts on one node, so that what crossing the links costs each stage shows at
# equal compute; once with the links as they are (veth, memory speed) and once limited to a rate
# (tc tbf, default 10gbit: 10 Gb/s Ethernet). Prints scaling.sh's tables; results in OUT.
#
#   bench/bench_cluster.sh GRLM OUT [RATE]     (root)
#
# On a 2-core machine more than 2 ranks share the cores: speed-ups beyond 2 ranks measure the
# cores, not the network; compare NxT shapes of equal ranks for the network.
set -euo pipefail
GRLM="$(realpath "$1")" OUT="$(realpath -m "$2")" RATE="${3:-10gbit}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CLUSTER="$ROOT/scripts/local_cluster.sh"
export GRLM_CLUSTER_DIR="$OUT/cluster" GRLM
"$CLUSTER" down > /dev/null 2>&1 || true
if [ -d "$OUT" ] && [ -n "$(ls -A "$OUT")" ] && [ ! -f "$OUT/config.json" ]; then
  echo "bench_cluster: $OUT is not empty and not an earlier output of this benchmark" >&2
  exit 1
fi
rm -rf "$OUT" && mkdir -p "$OUT"
trap '"$CLUSTER" down > /dev/null 2>&1 || true' EXIT
cluster_env="$("$CLUSTER" up 4)" || { echo "the local cluster did not come up"; exit 1; }
eval "$cluster_env"
"$GRLM" synth --items 20000 --users 3000 --seed 42 --out "$OUT/data" > /dev/null
cat > "$OUT/config.json" <<CONF
{"data": {"catalog": "$OUT/data/catalog.json", "interactions": "$OUT/data/interactions.txt"},
 "train": {"arch": {"hidden_size": 128, "layers": 2, "heads": 4, "kv_heads": 2, "intermediate_size": 384, "head_dim": 32},
           "global_batch_size": 32, "micro_batch_size": 8, "max_steps": 80, "lr": 2e-3, "log_steps": 20},
 "evaluate": {"max_users": 256, "chunk_users": 16, "num_beams": 10, "num_return_sequences": 10}}
CONF
shapes="1x1 1x2 2x1 1x4 2x2 4x1"
export SBATCH_EXTRA="--cpus-per-task=1 --gpus-per-node=0 --time=60 -D $ROOT"
echo "== links as they are (veth)"
bash "$ROOT/slurm/scaling.sh" "$OUT/config.json" "$OUT/veth" "$shapes" --device cpu
"$CLUSTER" rate "$RATE"
echo "== links limited to $RATE (tc tbf)"
bash "$ROOT/slurm/scaling.sh" "$OUT/config.json" "$OUT/$RATE" "$shapes" --device cpu
"$CLUSTER" rate off
