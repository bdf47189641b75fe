"""Parity of grlm's libtorch Qwen2/Qwen3 with Hugging Face `transformers` (the test oracle).

Creates tiny random checkpoints of several shapes, runs `grlm score` and `grlm generate` on them
and compares with transformers on CPU in float32:
  - teacher-forced log-probs: max abs diff <= 1e-4;
  - greedy: identical 32 new tokens; a padded batch equals prompts run one by one;
  - KV-cache decoding equals full recomputation (grlm score of the greedy output);
  - beam search 4/4 and 20/20: identical sequences, scores within 1e-4;
  - seeded sampling (temperature, top-k, top-p): identical tokens;
  - grlm init-model / export -> transformers loads -> identical logits.

Usage: model_parity.py GRLM_BINARY SCRATCH_DIR [QWEN3_TOKENIZER_DIR]   (prints a summary or raises AssertionError)
"""
import json
import os
import subprocess
import sys

import torch
from transformers import (AutoModelForCausalLM, GenerationConfig, Qwen2Config, Qwen2ForCausalLM, Qwen3Config,
                          Qwen3ForCausalLM)

VOCAB = 160
EOS = 3
EOS2 = 7
PAD = 0

GREEDY_LENGTHS = []  # the checks must see sequences that end early and ones that run to the limit
BEAM_LENGTHS = []

VARIANTS = {
    # name: (family, kwargs) covering GQA ratios 1/2/4, tied/untied, head_dim != hidden/heads, two thetas,
    # Qwen2's biases, linear and yarn-scaled ropes, and two eos ids (which widens the beam candidates).
    "qwen3_gqa2_untied": ("qwen3", dict(hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
                                         num_key_value_heads=2, head_dim=24, tie_word_embeddings=False,
                                         rope_parameters={"rope_type": "default", "rope_theta": 10000.0})),
    "qwen3_gqa4_tied": ("qwen3", dict(hidden_size=64, intermediate_size=128, num_hidden_layers=3, num_attention_heads=8,
                                       num_key_value_heads=2, head_dim=16, tie_word_embeddings=True,
                                       rope_parameters={"rope_type": "default", "rope_theta": 1000000.0})),
    "qwen2_mha_bias": ("qwen2", dict(hidden_size=48, intermediate_size=80, num_hidden_layers=2, num_attention_heads=4,
                                      num_key_value_heads=4, tie_word_embeddings=False,
                                      rope_parameters={"rope_type": "linear", "factor": 2.0,
                                                       "rope_theta": 1000000.0})),
    "qwen2_gqa2_tied_yarn": ("qwen2", dict(hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
                                            num_key_value_heads=2, tie_word_embeddings=True,
                                            rope_parameters={"rope_type": "yarn", "rope_theta": 10000.0, "factor": 4.0,
                                                             "original_max_position_embeddings": 64},
                                            eos_token_id=[EOS, EOS2])),
}


def make_checkpoint(name, family, kwargs, folder, seed):
    config_class, model_class = (Qwen3Config, Qwen3ForCausalLM) if family == "qwen3" else (Qwen2Config, Qwen2ForCausalLM)
    kwargs = dict(kwargs)
    eos = kwargs.pop("eos_token_id", EOS)
    config = config_class(vocab_size=VOCAB, max_position_embeddings=256, eos_token_id=eos, pad_token_id=PAD,
                          bos_token_id=None, **kwargs)
    torch.manual_seed(seed)
    model = model_class(config).eval()
    # Wider than the default init, so next-token distributions are peaked and rankings robust;
    # norms and biases random too, so every parameter matters.
    with torch.no_grad():
        for pname, p in model.named_parameters():
            if "norm" in pname:
                p.copy_(1.0 + 0.2 * torch.randn_like(p))
            elif pname.endswith("bias"):
                p.copy_(0.3 * torch.randn_like(p))
            else:
                p.copy_(0.25 * torch.randn_like(p))
        # Make the end tokens likelier, so beams finish at different lengths.
        for end in (eos if isinstance(eos, list) else [eos]):
            model.get_output_embeddings().weight[end] *= 1.5
    # One variant is written as shards with an index, as large checkpoints are.
    model.save_pretrained(folder, max_shard_size="60KB" if name == "qwen3_gqa4_tied" else "50GB")
    GenerationConfig(eos_token_id=eos, pad_token_id=PAD).save_pretrained(folder)
    if name == "qwen3_gqa4_tied":
        assert os.path.exists(os.path.join(folder, "model.safetensors.index.json")), "expected a sharded checkpoint"
    return model


def write_jsonl(path, rows):
    with open(path, "w") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")


def read_jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f]


def grlm(binary, *args):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    extra = [] if args[0] == "init-model" else ["--threads", "1", "--device", "cpu"]
    result = subprocess.run([binary, *args, *extra], capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise AssertionError(f"grlm {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
    return result


def trim(tokens, eos):
    """HF pads finished sequences: keep up to and including the first eos."""
    out = []
    for t in tokens:
        out.append(int(t))
        if t in eos:
            break
    return out


def check_variant(binary, name, family, kwargs, root, seed, summary):
    folder = os.path.join(root, name)
    model = make_checkpoint(name, family, kwargs, folder, seed)
    eos = kwargs.get("eos_token_id", [EOS])
    eos = set(eos if isinstance(eos, list) else [eos])
    generator = torch.Generator().manual_seed(seed)
    lengths = [3, 7, 12, 5, 9, 1]
    prompts = [torch.randint(4, VOCAB, (n,), generator=generator).tolist() for n in lengths]
    prompt_file = os.path.join(root, f"{name}.prompts.jsonl")
    write_jsonl(prompt_file, [{"ids": p} for p in prompts])

    # 1. teacher-forced log-probs
    sequences = [torch.randint(0, VOCAB, (n,), generator=generator).tolist() for n in (2, 17, 40)]
    score_in = os.path.join(root, f"{name}.score.jsonl")
    score_out = os.path.join(root, f"{name}.score.out.jsonl")
    write_jsonl(score_in, [{"ids": s} for s in sequences])
    grlm(binary, "score", "--model", folder, "--input", score_in, "--output", score_out)
    worst = 0.0
    for seq, got in zip(sequences, read_jsonl(score_out)):
        with torch.no_grad():
            logits = model(torch.tensor([seq])).logits[0].float()
        expected = torch.log_softmax(logits[:-1], -1).gather(1, torch.tensor(seq[1:]).unsqueeze(1)).squeeze(1)
        assert len(got["logprobs"]) == len(seq) - 1
        worst = max(worst, (expected - torch.tensor(got["logprobs"])).abs().max().item())
    assert worst <= 1e-4, f"{name}: log-probs differ by {worst}"
    summary.append(f"{name}: log-probs max abs diff {worst:.2e}")

    # 2. greedy, 32 new tokens, padded batch of 6 and one by one
    greedy_batched = os.path.join(root, f"{name}.greedy.jsonl")
    greedy_single = os.path.join(root, f"{name}.greedy1.jsonl")
    grlm(binary, "generate", "--model", folder, "--input", prompt_file, "--output", greedy_batched,
         "--max-new-tokens", "32", "--batch-size", "6")
    grlm(binary, "generate", "--model", folder, "--input", prompt_file, "--output", greedy_single,
         "--max-new-tokens", "32", "--batch-size", "1")
    batched, single = read_jsonl(greedy_batched), read_jsonl(greedy_single)
    for i, prompt in enumerate(prompts):
        with torch.no_grad():
            out = model.generate(torch.tensor([prompt]), max_new_tokens=32, do_sample=False, num_beams=1)
        expected = trim(out[0, len(prompt):].tolist(), eos)
        assert batched[i]["sequences"][0] == expected, f"{name}: greedy prompt {i}: {batched[i]['sequences'][0]} != {expected}"
        assert single[i]["sequences"][0] == expected, f"{name}: greedy one-by-one prompt {i} differs"
        assert abs(batched[i]["scores"][0] - single[i]["scores"][0]) <= 1e-4
    # 3. KV cache vs full recomputation: the greedy score equals the teacher-forced sum
    rescore_in = os.path.join(root, f"{name}.rescore.jsonl")
    rescore_out = os.path.join(root, f"{name}.rescore.out.jsonl")
    write_jsonl(rescore_in, [{"ids": p + r["sequences"][0]} for p, r in zip(prompts, batched)])
    grlm(binary, "score", "--model", folder, "--input", rescore_in, "--output", rescore_out)
    for p, r, s in zip(prompts, batched, read_jsonl(rescore_out)):
        full = sum(s["logprobs"][len(p) - 1:])
        assert abs(full - r["scores"][0]) <= 1e-4, f"{name}: cached decoding {r['scores'][0]} != recomputed {full}"
    GREEDY_LENGTHS.extend(len(r["sequences"][0]) for r in batched)
    mpiexec = os.environ.get("GRLM_MPIEXEC")
    if mpiexec:
        two_ranks = os.path.join(root, f"{name}.greedy.np2.jsonl")
        env = dict(os.environ, OMP_NUM_THREADS="1", OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
        result = subprocess.run([mpiexec, "-np", "2", "--oversubscribe", binary, "generate", "--model", folder, "--input",
                                 prompt_file, "--output", two_ranks, "--max-new-tokens", "32", "--batch-size", "6",
                                 "--threads", "1", "--device", "cpu"], capture_output=True, text=True, env=env)
        assert result.returncode == 0, result.stderr
        assert [r["sequences"] for r in read_jsonl(two_ranks)] == [r["sequences"] for r in batched], f"{name}: np 2 differs"
    summary.append(f"{name}: greedy 32 tokens identical for {len(prompts)} prompts (batched, one by one, 2 ranks); cache == recompute")

    # 4. beam search: 4/4 and 20/20 with the defaults, then other length penalties and end rules
    settings = [(4, 4, 16, 1.0, "false"), (20, 20, 10, 1.0, "false"), (6, 3, 12, 0.5, "true"), (6, 2, 12, 2.0, "never"),
                (5, 5, 12, -1.0, "false")]
    for beams, returned, max_new, penalty, early in settings:
        beam_out = os.path.join(root, f"{name}.beam{beams}-{returned}-{penalty}-{early}.jsonl")
        grlm(binary, "generate", "--model", folder, "--input", prompt_file, "--output", beam_out,
             "--max-new-tokens", str(max_new), "--num-beams", str(beams), "--num-return-sequences", str(returned),
             "--length-penalty", str(penalty), "--early-stopping", early, "--batch-size", "3")
        worst = 0.0
        hf_early = {"false": False, "true": True, "never": "never"}[early]
        for i, (prompt, got) in enumerate(zip(prompts, read_jsonl(beam_out))):
            with torch.no_grad():
                out = model.generate(torch.tensor([prompt]), max_new_tokens=max_new, num_beams=beams,
                                     num_return_sequences=returned, do_sample=False, output_scores=True,
                                     return_dict_in_generate=True, length_penalty=penalty, early_stopping=hf_early)
            expected = [trim(row[len(prompt):].tolist(), eos) for row in out.sequences]
            assert got["sequences"] == expected, \
                f"{name}: beams={beams}/{returned} lp={penalty} early={early} prompt {i}:\n{got['sequences']}\n!=\n{expected}"
            # float32 sums of up to 16 log-probs: 1e-4 absolute, plus float32 rounding of large scores
            # (a negative length penalty multiplies the sum by the length)
            excess = (torch.tensor(got["scores"]) - out.sequences_scores).abs() - 1e-6 * out.sequences_scores.abs()
            worst = max(worst, excess.max().item())
        assert worst <= 1e-4, f"{name}: beams {beams}/{returned} lp {penalty} early {early}: scores differ by {worst}"
        BEAM_LENGTHS.extend(len(seq) for r in read_jsonl(beam_out) for seq in r["sequences"])
        summary.append(f"{name}: beam {beams}/{returned} (length_penalty {penalty}, early_stopping {early}): "
                       f"identical sequences, scores within {max(worst, 0):.2e} (+1e-6 relative)")

    # 5. seeded sampling, one prompt at a time (the same random stream as torch.manual_seed)
    sample_out = os.path.join(root, f"{name}.sample.jsonl")
    grlm(binary, "generate", "--model", folder, "--input", prompt_file, "--output", sample_out, "--max-new-tokens", "24",
         "--do-sample", "--temperature", "0.8", "--top-k", "20", "--top-p", "0.9", "--seed", "1234", "--batch-size", "1")
    same = 0
    for prompt, got in zip(prompts, read_jsonl(sample_out)):
        torch.manual_seed(1234)
        with torch.no_grad():
            out = model.generate(torch.tensor([prompt]), max_new_tokens=24, do_sample=True, temperature=0.8, top_k=20,
                                 top_p=0.9)
        same += got["sequences"][0] == trim(out[0, len(prompt):].tolist(), eos)
    assert same == len(prompts), f"{name}: seeded sampling matched for {same} of {len(prompts)} prompts"
    summary.append(f"{name}: seeded sampling identical for {same} prompts")


def check_encoder(binary, root, summary):
    """grlm encode: mean and last-token pooling of the final hidden states, as transformers computes them."""
    folder = os.path.join(root, "qwen3_gqa4_tied")
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    generator = torch.Generator().manual_seed(9)
    sequences = [torch.randint(4, VOCAB, (n,), generator=generator).tolist() for n in (5, 11, 2, 8)]
    inputs = os.path.join(root, "encode.jsonl")
    write_jsonl(inputs, [{"ids": s} for s in sequences])
    worst = 0.0
    for pooling in ("mean", "last"):
        out = os.path.join(root, f"encode.{pooling}.jsonl")
        grlm(binary, "encode", "--model", folder, "--input", inputs, "--output", out, "--pooling", pooling, "--batch-size", "4")
        for seq, got in zip(sequences, read_jsonl(out)):
            with torch.no_grad():
                hidden = model.model(torch.tensor([seq])).last_hidden_state[0]
            pooled = hidden.mean(0) if pooling == "mean" else hidden[-1]
            pooled = pooled / pooled.norm()
            worst = max(worst, (pooled - torch.tensor(got["embedding"])).abs().max().item())
    assert worst <= 1e-5, f"encode differs by {worst}"
    summary.append(f"encode (mean and last pooling, padded batch): max abs diff {worst:.2e}")


def check_export(binary, root, summary):
    """grlm init-model writes a checkpoint transformers loads with the same logits as grlm."""
    config = Qwen3Config(vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                         num_key_value_heads=2, head_dim=8, tie_word_embeddings=True, eos_token_id=EOS, pad_token_id=PAD)
    config_path = os.path.join(root, "scratch_config.json")
    with open(config_path, "w") as f:
        f.write(config.to_json_string())
    for dtype in ("float32", "bfloat16"):
        out = os.path.join(root, f"scratch_{dtype}")
        grlm(binary, "init-model", "--config", config_path, "--out", out, "--seed", "7", "--dtype", dtype)
        model = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32).eval()
        seq = list(range(4, 30))
        score_in = os.path.join(root, f"scratch_{dtype}.jsonl")
        score_out = os.path.join(root, f"scratch_{dtype}.out.jsonl")
        write_jsonl(score_in, [{"ids": seq}])
        grlm(binary, "score", "--model", out, "--input", score_in, "--output", score_out, "--dtype", "float32")
        with torch.no_grad():
            logits = model(torch.tensor([seq])).logits[0].float()
        expected = torch.log_softmax(logits[:-1], -1).gather(1, torch.tensor(seq[1:]).unsqueeze(1)).squeeze(1)
        diff = (expected - torch.tensor(read_jsonl(score_out)[0]["logprobs"])).abs().max().item()
        assert diff <= 1e-4, f"export {dtype}: transformers and grlm differ by {diff}"
        std = model.model.layers[0].mlp.up_proj.weight.std().item()
        assert abs(std - config.initializer_range) < 0.004, f"init std {std} is not initializer_range"
        summary.append(f"init-model + export ({dtype}) -> transformers: log-probs max abs diff {diff:.2e}, init std {std:.4f}")


def check_text_prompts(binary, root, tokenizer_dir, summary):
    """Text prompts through the real Qwen3 tokenizer and chat template, as transformers renders them."""
    from transformers import AutoTokenizer
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    folder = os.path.join(root, "qwen3_chat")
    config = Qwen3Config(vocab_size=151936, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                         num_key_value_heads=2, head_dim=8, tie_word_embeddings=True,
                         eos_token_id=tokenizer.convert_tokens_to_ids("<|im_end|>"),
                         pad_token_id=tokenizer.convert_tokens_to_ids("<|endoftext|>"))
    torch.manual_seed(5)
    model = Qwen3ForCausalLM(config).eval()
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() > 1:
                p.mul_(20.0)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    texts = ["Recommend a shampoo for dry hair.", "主题：护肤 — what next?", "Terms: [moisturizer, cream, face]"]
    prompts_file = os.path.join(root, "chat.prompts.jsonl")
    out_file = os.path.join(root, "chat.out.jsonl")
    write_jsonl(prompts_file, [{"text": t} for t in texts])
    grlm(binary, "generate", "--model", folder, "--input", prompts_file, "--output", out_file, "--chat", "--no-thinking",
         "--max-new-tokens", "8", "--batch-size", "3")
    for text, got in zip(texts, read_jsonl(out_file)):
        rendered = tokenizer.apply_chat_template([{"role": "user", "content": text}], tokenize=False,
                                                 add_generation_prompt=True, enable_thinking=False)
        ids = tokenizer(rendered, add_special_tokens=False, return_tensors="pt").input_ids
        with torch.no_grad():
            out = model.generate(ids, max_new_tokens=8, do_sample=False)
        expected = trim(out[0, ids.shape[1]:].tolist(), {config.eos_token_id})
        assert got["sequences"][0] == expected, f"chat prompt {text!r}: {got['sequences'][0]} != {expected}"
        assert got["texts"][0] == tokenizer.decode(expected, skip_special_tokens=True)
    # Stop strings: the sequence ends at the first token whose text completes the string.
    first = read_jsonl(out_file)[0]["sequences"][0]
    stop = tokenizer.decode(first[3:5])[1:]
    stop_file = os.path.join(root, "chat.stop.jsonl")
    grlm(binary, "generate", "--model", folder, "--input", prompts_file, "--output", stop_file, "--chat", "--no-thinking",
         "--max-new-tokens", "8", "--batch-size", "3", "--stop", stop)
    expected = next(first[:n] for n in range(1, len(first) + 1) if stop in tokenizer.decode(first[:n]))
    got = read_jsonl(stop_file)[0]["sequences"][0]
    assert got == expected and len(expected) < len(first), f"stop string {stop!r}: {got} != {expected}"
    summary.append(f"chat-template text prompts (real Qwen3 tokenizer): {len(texts)} identical generations and texts; "
                   f"stop string ends after {len(expected)} of {len(first)} tokens")


def check_hostile(binary, root, summary):
    """Damaged checkpoints end with an error naming the file and the tensor, never a crash."""
    import shutil
    from safetensors.torch import load_file, save_file
    source = os.path.join(root, "qwen3_gqa2_untied")
    score_in = os.path.join(root, "hostile.jsonl")
    write_jsonl(score_in, [{"ids": [1, 2, 3]}])
    tensors = load_file(os.path.join(source, "model.safetensors"))
    cases = {
        "missing": ({k: v for k, v in tensors.items() if k != "model.layers.1.mlp.up_proj.weight"},
                    'tensor "model.layers.1.mlp.up_proj.weight" is missing'),
        "wrong_shape": (dict(tensors, **{"model.norm.weight": torch.ones(63)}), 'tensor "model.norm.weight" has shape [63]'),
        "unexpected": (dict(tensors, **{"model.layers.7.mlp.up_proj.weight": torch.ones(2)}),
                       'unexpected tensor "model.layers.7.mlp.up_proj.weight"'),
        "int_weights": (dict(tensors, **{"model.norm.weight": torch.ones(64, dtype=torch.int32)}), "not a floating-point weight type"),
    }
    for case, (state, message) in cases.items():
        folder = os.path.join(root, f"hostile_{case}")
        shutil.copytree(source, folder, dirs_exist_ok=True)
        save_file(state, os.path.join(folder, "model.safetensors"), metadata={"format": "pt"})
        result = subprocess.run([binary, "score", "--model", folder, "--input", score_in, "--output", "-"],
                                capture_output=True, text=True)
        assert result.returncode != 0 and message in result.stderr, f"{case}: rc {result.returncode}, {result.stderr}"
    folder = os.path.join(root, "hostile_truncated")
    shutil.copytree(source, folder, dirs_exist_ok=True)
    path = os.path.join(folder, "model.safetensors")
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) - 100)
    result = subprocess.run([binary, "score", "--model", folder, "--input", score_in, "--output", "-"], capture_output=True, text=True)
    assert result.returncode != 0 and "model.safetensors" in result.stderr and "run past the end" in result.stderr, result.stderr
    summary.append(f"hostile checkpoints: {len(cases) + 1} refused with the file and tensor named")


def main():
    binary, root = sys.argv[1], sys.argv[2]
    tokenizer_dir = sys.argv[3] if len(sys.argv) > 3 else None
    os.makedirs(root, exist_ok=True)
    torch.set_num_threads(1)
    summary = []
    only = os.environ.get("GRLM_PARITY_ONLY")
    for seed, (name, (family, kwargs)) in enumerate(VARIANTS.items()):
        if only and only != name:
            continue
        check_variant(binary, name, family, kwargs, root, 100 + seed, summary)
    assert 32 in GREEDY_LENGTHS and min(GREEDY_LENGTHS) < 32, f"greedy lengths lack variety: {GREEDY_LENGTHS}"
    assert min(BEAM_LENGTHS) < 10, "no beam finished early: the finishing rules went untested"
    if not only:
        check_export(binary, root, summary)
        check_hostile(binary, root, summary)
        check_encoder(binary, root, summary)
        if tokenizer_dir:
            check_text_prompts(binary, root, tokenizer_dir, summary)
    print("\n".join(summary))


if __name__ == "__main__":
    main()
