"""PyTorch anchor of bench_train_gpu: the same Qwen3-shaped random model (transformers), bf16
parameters on the GPU, torch.optim.AdamW(fused=True), clip_grad_norm_ 1.0, micro-batches of random
tokens, every position trained; one JSON line with tokens/s and MFU (same FLOP formula).
Usage: bench_train_gpu.py HIDDEN LAYERS HEADS KV_HEADS INTERMEDIATE VOCAB SEQ MICRO STEPS PEAK_TFLOPS [checkpointing]"""
import json
import sys
import time

import torch
from transformers import Qwen3Config, Qwen3ForCausalLM

hidden, layers, heads, kv, inter, vocab, seq, micro, steps = map(int, sys.argv[1:10])
peak = float(sys.argv[10])
config = Qwen3Config(vocab_size=vocab, hidden_size=hidden, intermediate_size=inter, num_hidden_layers=layers,
                     num_attention_heads=heads, num_key_value_heads=kv, head_dim=hidden // heads,
                     max_position_embeddings=4096, rope_theta=1e6, tie_word_embeddings=True)
torch.manual_seed(1)
model = Qwen3ForCausalLM(config).to(device="cuda", dtype=torch.bfloat16)
if len(sys.argv) > 11:
    model.gradient_checkpointing_enable()
model.train()
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.95), eps=1e-8, fused=True)
timed, count = 0.0, 0
for step in range(steps):
    ids = torch.randint(vocab, (micro, seq), device="cuda")
    torch.cuda.synchronize()
    started = time.perf_counter()
    logits = model(input_ids=ids).logits[:, :-1].float()
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, vocab), ids[:, 1:].reshape(-1))
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    torch.cuda.synchronize()
    if step >= 2:
        timed += time.perf_counter() - started
        count += 1
body = sum(p.numel() for n, p in model.named_parameters() if "embed_tokens" not in n and "lm_head" not in n)
tokens = micro * seq
flops = 6 * body * tokens + 6 * vocab * hidden * micro * (seq - 1) + 6 * layers * heads * (hidden // heads) * micro * seq * seq
step_seconds = timed / max(1, count)
print(json.dumps({"parameters": sum(p.numel() for p in model.parameters()), "step_seconds": step_seconds,
                  "tokens_per_s": tokens / step_seconds, "mfu": flops / step_seconds / (peak * 1e12),
                  "peak_bytes": torch.cuda.max_memory_allocated(), "loss": float(loss)}))
