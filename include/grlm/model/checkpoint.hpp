// Hugging Face checkpoints: a folder with config.json and model.safetensors (or shards listed in
// model.safetensors.index.json), loaded straight to the target device and dtype; exports that
// `transformers` loads back.
#pragma once

#include <filesystem>
#include <optional>
#include <vector>

#include "grlm/model/transformer.hpp"

namespace grlm {

struct LoadOptions {
  at::Device device = at::kCPU;
  std::optional<at::ScalarType> dtype;  // default: the checkpoint's torch_dtype
  bool require_lm_head = true;          // false for encoder use (Qwen3-Embedding has none)
};

// Every tensor is checked against the config (names, shapes, float dtype); a missing or
// unexpected tensor is an InputError naming the file and the tensor.
Transformer load_pretrained(const std::filesystem::path& folder, const LoadOptions& options = {});

// A new model with Hugging Face's random initialisation, for training from scratch.
Transformer init_from_config(const ModelConfig& config, uint64_t seed, at::ScalarType dtype, at::Device device);

// The token ids generation stops on and pads with: generation_config.json first, then
// config.json, then the tokenizer's eos/pad tokens (pad falls back to the first eos id, then 0).
struct GenerationDefaults {
  std::vector<int64_t> eos_token_ids;
  int64_t pad_token_id = 0;
};
GenerationDefaults generation_defaults(const std::filesystem::path& folder, const ModelConfig& config);

// Writes config.json, model.safetensors (in `dtype`) and generation_config.json into `folder`;
// copies tokenizer files from `tokenizer_folder` when given.
void save_pretrained(const Transformer& model, const std::filesystem::path& folder, at::ScalarType dtype,
                     const std::optional<std::filesystem::path>& tokenizer_folder = std::nullopt);

}  // namespace grlm
