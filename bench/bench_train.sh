#!/usr/bin/env bash
# Training step time on the CPU: grlm train (libtorch, ZeRO-2 over MPI) vs the same model, batches
# and optimizer in PyTorch eager from Python (bench/bench_train.py: transformers' Qwen3,
# torch.optim.AdamW, clip_grad_norm_), same threads, same run. Data: a grlm synth dataset through
# build-sft (word-level tokenizer); model: a from-scratch Qwen3 written by grlm init-model.
# TOKENIZER=DIR renders the samples with that Hugging Face tokenizer (e.g. Qwen3's, vocabulary
# 151,669) instead of the word-level one. Reported: seconds per step summed over steps 3..STEPS.
# Usage: bench/bench_train.sh [HIDDEN] [LAYERS] [STEPS]
set -euo pipefail
cd "$(dirname "$0")/.."
HIDDEN="${1:-256}" LAYERS="${2:-4}" STEPS="${3:-22}" THREADS="${THREADS:-$(nproc)}" GLOBAL=16 MICRO="${MICRO:-8}" LR=1e-3
DIR=runs/bench-train && mkdir -p "$DIR"
TOKENIZER="${TOKENIZER:-}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
[ -f "$DIR/data/catalog.json" ] || build/grlm synth --items 2000 --users 4000 --seed 5 --out "$DIR/data" > /dev/null 2>&1
base=(--set "data.catalog=$DIR/data/catalog.json" --set "data.interactions=$DIR/data/interactions.txt" --device cpu)
BASE="$DIR/base" TOKENIZER_JSON="$DIR/base/sft/tokenizer.json"
if [ -n "$TOKENIZER" ]; then
  base+=(--set "sft.tokenizer=$TOKENIZER") BASE="$DIR/base-hf" TOKENIZER_JSON="$TOKENIZER/tokenizer.json"
fi
if [ ! -f "$BASE/grlm.h5" ]; then
  OMP_NUM_THREADS=$THREADS mpirun -np 1 --bind-to none build/grlm run "${base[@]}" --set "run_dir=$BASE" --until build-sft > /dev/null 2>&1
fi
VOCAB=$(python3 -c "import json; t = json.load(open('$TOKENIZER_JSON')); print(max([*t['model']['vocab'].values(), *[a['id'] for a in t['added_tokens']]]) + 1)")
mkdir -p "$DIR/config"
python3 - "$DIR/config/config.json" "$HIDDEN" "$LAYERS" "$VOCAB" <<'PY'
import json, sys
path, hidden, layers, vocab = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
json.dump({"architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3", "vocab_size": vocab, "hidden_size": hidden,
           "intermediate_size": 3 * hidden, "num_hidden_layers": layers, "num_attention_heads": hidden // 64,
           "num_key_value_heads": max(1, hidden // 128), "head_dim": 64, "max_position_embeddings": 2048,
           "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "tie_word_embeddings": True, "eos_token_id": 4,
           "torch_dtype": "float32"}, open(path, "w"))
PY
build/grlm init-model --config "$DIR/config" --out "$DIR/init" --seed 1 > /dev/null 2>&1
train=(--set "train.model=$DIR/init" --set train.dtype=float32 --set "train.max_steps=$STEPS" --set "train.global_batch_size=$GLOBAL"
       --set "train.lr=$LR" --set train.save_steps=100000 --set train.export=false --set train.log_steps=1000)
median() { python3 -c "import json; c = json.load(open('$1/train/curve.json')); print(sum(p['seconds'] for p in c[2:]) / len(c[2:]))"; }
losses() { python3 -c "import json; print(json.dumps([p['loss'] for p in json.load(open('$1/train/curve.json'))]))"; }
fresh() { rm -rf "$1" && cp -r "$BASE" "$1"; }
fresh "$DIR/np1"
OMP_NUM_THREADS=$THREADS mpirun -np 1 --bind-to none build/grlm run "${base[@]}" "${train[@]}" --set "run_dir=$DIR/np1" \
  --set "train.micro_batch_size=$MICRO" --until train > "$DIR/np1.log" 2>&1
fresh "$DIR/np2"
OMP_NUM_THREADS=1 mpirun -np 2 --oversubscribe build/grlm run "${base[@]}" "${train[@]}" --set "run_dir=$DIR/np2" \
  --set "train.micro_batch_size=$MICRO" --until train > "$DIR/np2.log" 2>&1
theirs=$(OMP_NUM_THREADS=$THREADS python3 bench/bench_train.py "$DIR/init" "$BASE" "$THREADS" "$GLOBAL" "$MICRO" "$STEPS" "$LR" 2> /dev/null)
python3 - "$(median "$DIR/np1")" "$(median "$DIR/np2")" "$theirs" "$(losses "$DIR/np1")" "$THREADS" "$HIDDEN" "$LAYERS" "$VOCAB" "$MICRO" <<'PY'
import json, sys
ours, ours2, theirs, our_losses = float(sys.argv[1]), float(sys.argv[2]), json.loads(sys.argv[3]), json.loads(sys.argv[4])
threads, hidden, layers, vocab, micro = sys.argv[5:10]
gap = max(abs(a - b) for a, b in zip(our_losses, theirs["losses"]))
print(f"Qwen3 hidden {hidden}, {layers} layers, vocab {vocab}; global batch 16, micro-batch {micro}, fp32, {threads} threads")
print(f"  grlm train np 1            {ours:6.3f} s/step")
print(f"  PyTorch eager (Python)     {theirs['step_seconds']:6.3f} s/step   ratio {theirs['step_seconds'] / ours:.2f}x")
print(f"  grlm train np 2 (1 thread) {ours2:6.3f} s/step   ({ours / ours2:.2f}x np 1)")
print(f"  losses agree within {gap:.1e}")
PY
