// The config.json of a Hugging Face Qwen3 or Qwen2/2.5 checkpoint, read into what the
// transformer needs, with the rotary-embedding variants these families use.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace grlm {

struct RopeConfig {
  std::string type = "default";  // "default" | "linear" | "dynamic" | "yarn"
  double theta = 10000.0;
  double factor = 1.0;
  // yarn
  std::optional<double> attention_factor;
  double beta_fast = 32.0;
  double beta_slow = 1.0;
  std::optional<double> mscale;
  std::optional<double> mscale_all_dim;
  int64_t original_max_position_embeddings = 0;
  bool truncate = true;
  double partial_rotary_factor = 1.0;
};

struct ModelConfig {
  std::string model_type = "qwen3";  // "qwen3" | "qwen2"
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t num_key_value_heads = 0;
  int64_t head_dim = 0;
  double rms_norm_eps = 1e-6;
  int64_t max_position_embeddings = 32768;
  bool tie_word_embeddings = false;
  bool attention_bias = false;  // qwen3: q/k/v/o biases; qwen2 always has q/k/v biases
  std::string hidden_act = "silu";
  std::string torch_dtype = "float32";
  double initializer_range = 0.02;
  std::vector<int64_t> eos_token_ids;
  std::optional<int64_t> bos_token_id;
  std::optional<int64_t> pad_token_id;
  RopeConfig rope;
  nlohmann::json raw;  // the file as read, so an export keeps fields this struct does not model

  bool qk_norm() const { return model_type == "qwen3"; }
  bool qkv_bias() const { return model_type == "qwen2" || attention_bias; }
  bool o_bias() const { return model_type == "qwen3" && attention_bias; }
  int64_t rotary_dim() const { return static_cast<int64_t>(static_cast<double>(head_dim) * rope.partial_rotary_factor); }
  int64_t parameter_count() const;

  // Parses a config.json object; `source` names it in errors (UsageError-free: InputError).
  static ModelConfig from_json(const nlohmann::json& json, const std::string& source);
  static ModelConfig load(const std::filesystem::path& file_or_folder);
  // A config.json for this model that `transformers` loads (raw fields kept, ours updated).
  nlohmann::json to_json() const;
};

}  // namespace grlm
