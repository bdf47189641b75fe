"""Anchor for bench/bench_model.sh: the same measurements with transformers (PyTorch eager) on
the same checkpoint, device, dtype and thread count.

Usage: bench_model.py make  DIR SIZE            (writes a random Qwen3 checkpoint: SIZE = 30m | 0.5b)
       bench_model.py bench DIR DEVICE DTYPE THREADS BATCH PROMPT_LEN NEW_TOKENS BEAMS REPEATS
"""
import json
import sys
import time

import torch
from transformers import AutoModelForCausalLM, GenerationConfig, Qwen3Config, Qwen3ForCausalLM

SIZES = {
    # ~30M parameters: a small from-scratch recommender model
    "30m": dict(vocab_size=32000, hidden_size=384, intermediate_size=1024, num_hidden_layers=6, num_attention_heads=6,
                num_key_value_heads=2, head_dim=64, tie_word_embeddings=True),
    # ~0.5B: Qwen2.5-0.5B / Qwen3-0.6B shape
    "0.5b": dict(vocab_size=151936, hidden_size=896, intermediate_size=4864, num_hidden_layers=24, num_attention_heads=14,
                 num_key_value_heads=2, head_dim=64, tie_word_embeddings=True),
}


def make(folder, size):
    config = Qwen3Config(max_position_embeddings=4096, **SIZES[size])
    torch.manual_seed(0)
    model = Qwen3ForCausalLM(config)
    model.save_pretrained(folder)
    GenerationConfig().save_pretrained(folder)
    print(json.dumps({"parameters": sum(p.numel() for p in model.parameters())}))


def sync(device):
    if device == "cuda":
        torch.cuda.synchronize()


def bench(folder, device, dtype, threads, batch, prompt_len, new_tokens, beams, repeats):
    torch.set_num_threads(threads)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=getattr(torch, dtype)).to(device).eval()
    generator = torch.Generator().manual_seed(1)
    ids = torch.randint(0, model.config.vocab_size, (batch, prompt_len), generator=generator).to(device)
    mask = torch.ones_like(ids)

    def best_of(work):
        work()
        best = 1e30
        for _ in range(repeats):
            sync(device)
            start = time.perf_counter()
            work()
            sync(device)
            best = min(best, time.perf_counter() - start)
        return best

    common = dict(attention_mask=mask, max_new_tokens=new_tokens, min_new_tokens=new_tokens, eos_token_id=None,
                  pad_token_id=0, do_sample=False)
    with torch.inference_mode():
        prefill = best_of(lambda: model(ids, logits_to_keep=1).logits.float().cpu())
        greedy = best_of(lambda: model.generate(ids, num_beams=1, **common))
        beam = best_of(lambda: model.generate(ids, num_beams=beams, **common))
    print(json.dumps({"threads": torch.get_num_threads(),
                      "prefill_tokens_per_s": batch * prompt_len / prefill,
                      "decode_tokens_per_s": batch * new_tokens / max(1e-9, greedy - prefill),
                      "greedy_seconds": greedy, "beam_seconds": beam,
                      "beam_tokens_per_s": batch * beams * new_tokens / beam}))


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2], sys.argv[3])
    else:
        folder, device, dtype = sys.argv[2], sys.argv[3], sys.argv[4]
        bench(folder, device, dtype, *(int(a) for a in sys.argv[5:11]))
