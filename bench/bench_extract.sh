#!/usr/bin/env bash
# Extraction throughput: grlm extract (libtorch, batched greedy with the KV cache) vs the same
# prompts through transformers' batched greedy generate, same small random Qwen3 checkpoint (real
# Qwen3 tokenizer and chat template), same threads, same run. Items: the Beauty catalog head.
# Both times include loading the model and rendering prompts; no retries (extract.retries=0).
# Usage: bench/bench_extract.sh [HIDDEN] [LAYERS]
set -euo pipefail
cd "$(dirname "$0")/.."
HIDDEN="${1:-256}" LAYERS="${2:-4}" THREADS="${THREADS:-$(nproc)}" BATCH=16 MAX_NEW=50
DIR=runs/bench-extract && mkdir -p "$DIR"
CATALOG=../shared/data/beauty/beauty.item.head.json
python3 - "$DIR" "$HIDDEN" "$LAYERS" "$CATALOG" <<'PY'
import json, sys, torch
from transformers import AutoTokenizer, Qwen3Config, Qwen3ForCausalLM
folder, hidden, layers, catalog = sys.argv[1] + "/model", int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
tokenizer = AutoTokenizer.from_pretrained("../shared/models/qwen3-tokenizer")
config = Qwen3Config(vocab_size=151936, hidden_size=hidden, intermediate_size=hidden * 3, num_hidden_layers=layers,
                     num_attention_heads=max(1, hidden // 64), num_key_value_heads=max(1, hidden // 128), head_dim=64,
                     tie_word_embeddings=True, eos_token_id=tokenizer.convert_tokens_to_ids("<|im_end|>"))
torch.manual_seed(0)
Qwen3ForCausalLM(config).save_pretrained(folder)
tokenizer.save_pretrained(folder)
ids = list(json.load(open(catalog)))
with open(sys.argv[1] + "/interactions.txt", "w") as f:
    for u in range(60):
        f.write(" ".join([f"u{u}"] + [ids[(u * 3 + j) % len(ids)] for j in range(5)]) + "\n")
PY
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
rm -rf "$DIR/run"
common=(--set "run_dir=$DIR/run" --set "data.catalog=$CATALOG" --set "data.interactions=$DIR/interactions.txt"
        --set similar.json=true --set "extract.model=$DIR/model" --set extract.retries=0 --set "extract.batch_size=$BATCH"
        --set "extract.max_new_tokens=$MAX_NEW" --device cpu)
OMP_NUM_THREADS=$THREADS mpirun -np 1 --bind-to none build/grlm run "${common[@]}" --until similar > /dev/null 2>&1
ours=$( { OMP_NUM_THREADS=$THREADS mpirun -np 1 --bind-to none build/grlm run "${common[@]}" --until extract 2>&1; } | grep "stage extract: complete in" | awk '{print $(NF-1)}')
ours2=""
if [ "${RANKS2:-1}" = 1 ]; then
  python3 -c "import h5py; f = h5py.File('$DIR/run/grlm.h5', 'r+'); del f['/extract']" 2> /dev/null || true
  ours2=$( { OMP_NUM_THREADS=1 mpirun -np 2 --oversubscribe build/grlm run "${common[@]}" --until extract 2>&1; } | grep "stage extract: complete in" | awk '{print $(NF-1)}')
fi
theirs=$(OMP_NUM_THREADS=$THREADS python3 bench/bench_extract.py "$DIR/model" "$DIR/run" "$CATALOG" "$THREADS" "$BATCH" "$MAX_NEW" 2> /dev/null)
python3 - "$ours" "$theirs" "$ours2" "$THREADS" "$HIDDEN" "$LAYERS" <<'PY'
import json, sys
ours, theirs = float(sys.argv[1]), json.loads(sys.argv[2])
items = theirs["items"]
print(f"Qwen3 hidden {sys.argv[5]}, {sys.argv[6]} layers (vocab 151,936), {items} items, {sys.argv[4]} threads, batch 16, 50 new tokens")
print(f"  grlm extract (np 1)   {ours:7.1f} s  {items / ours:6.2f} items/s")
print(f"  transformers generate {theirs['seconds']:7.1f} s  {theirs['items_per_s']:6.2f} items/s   ratio {theirs['seconds'] / ours:.2f}x")
if sys.argv[3]:
    print(f"  grlm extract (np 2, 1 thread each) {float(sys.argv[3]):7.1f} s  {items / float(sys.argv[3]):6.2f} items/s")
PY
