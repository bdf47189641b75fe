"""Test oracle: chat prompts rendered by transformers' apply_chat_template.

Templates: the real Qwen3 template of ../shared/models/qwen3-tokenizer, and Qwen2- and
Qwen2.5-style ChatML templates written here. Writes each template to OUT/<name>.jinja and one
JSON line per rendering to OUT/expected.jsonl.
"""
import argparse
import itertools
import json
import os

from transformers import PreTrainedTokenizerFast

QWEN2 = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{% endif %}"
    "{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
QWEN25 = (
    "{%- if messages[0]['role'] == 'system' %}{{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}"
    "{%- else %}{{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}"
    "{%- endif %}{%- for message in messages %}"
    "{%- if (message.role == 'user') or (message.role == 'system' and not loop.first) or (message.role == 'assistant') %}"
    "{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}{%- endif %}{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)

SYSTEM = {"role": "system", "content": "You are a recommender. Answer with Term IDs."}
USER = {"role": "user", "content": "Item text ID: [hair-mask, color-lock, citrus, protein, unisex] Title: Phyto Mask.\n"}
USER2 = {"role": "user", "content": "And the next one?"}
ASSISTANT = {"role": "assistant", "content": "[shampoo, color, care, treated, preserve]"}
ASSISTANT_THINKING = {"role": "assistant", "content": "<think>\nThe user likes hair care.\n</think>\n\n[conditioner, hair, smooth, daily, women]"}


def conversations():
    pool = [SYSTEM, USER, USER2, ASSISTANT, ASSISTANT_THINKING]
    seen = []
    for length in (1, 2, 3):
        for combo in itertools.product(pool, repeat=length):
            if any(m is SYSTEM for m in combo[1:]) and combo[0] is not SYSTEM and length < 3:
                continue
            seen.append(list(combo))
    return seen


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--tokenizer-dir", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    tokenizer = PreTrainedTokenizerFast(tokenizer_file=os.path.join(args.tokenizer_dir, "tokenizer.json"))
    qwen3 = json.load(open(os.path.join(args.tokenizer_dir, "tokenizer_config.json")))["chat_template"]
    templates = {"qwen3": qwen3, "qwen2": QWEN2, "qwen2.5": QWEN25}
    count = 0
    with open(os.path.join(args.out, "expected.jsonl"), "w", encoding="utf-8") as out:
        for name, template in templates.items():
            with open(os.path.join(args.out, f"{name}.jinja"), "w", encoding="utf-8") as file:
                file.write(template)
            for messages in conversations():
                for add_generation_prompt in (True, False):
                    for enable_thinking in (None, False, True):
                        extra = {} if enable_thinking is None else {"enable_thinking": enable_thinking}
                        text = tokenizer.apply_chat_template(messages, chat_template=template, tokenize=False,
                                                             add_generation_prompt=add_generation_prompt, **extra)
                        out.write(json.dumps({"template": name, "messages": messages,
                                              "add_generation_prompt": add_generation_prompt,
                                              "enable_thinking": enable_thinking, "text": text},
                                             ensure_ascii=False) + "\n")
                        count += 1
    print(f"{count} renderings")


if __name__ == "__main__":
    main()
