#include "grlm/model/model_config.hpp"

#include "grlm/core/error.hpp"
#include "grlm/data/text_file.hpp"

namespace grlm {
namespace {

int64_t required_positive(const nlohmann::json& json, const char* key, const std::string& source) {
  if (!json.contains(key) || !json[key].is_number_integer() || json[key].get<int64_t>() <= 0) {
    throw InputError(cat(source, ": \"", key, "\" must be a positive integer",
                         json.contains(key) ? cat(", got ", json[key].dump()) : std::string(" (missing)")));
  }
  return json[key].get<int64_t>();
}

template <class T>
T value_or(const nlohmann::json& json, const char* key, T fallback) {
  if (!json.contains(key) || json[key].is_null()) return fallback;
  return json[key].get<T>();
}

std::optional<double> optional_number(const nlohmann::json& json, const char* key) {
  if (!json.contains(key) || json[key].is_null()) return std::nullopt;
  return json[key].get<double>();
}

std::vector<int64_t> id_list(const nlohmann::json& value) {
  if (value.is_null()) return {};
  if (value.is_number_integer()) return {value.get<int64_t>()};
  return value.get<std::vector<int64_t>>();
}

// transformers 5 writes "rope_parameters" (with rope_theta inside); older files "rope_theta" and
// "rope_scaling" at the top level.
RopeConfig parse_rope(const nlohmann::json& json, const std::string& source) {
  RopeConfig rope;
  nlohmann::json parameters = nlohmann::json::object();
  if (json.contains("rope_parameters") && json["rope_parameters"].is_object()) parameters = json["rope_parameters"];
  if (json.contains("rope_scaling") && json["rope_scaling"].is_object()) parameters.update(json["rope_scaling"]);
  rope.theta = value_or<double>(parameters, "rope_theta", value_or<double>(json, "rope_theta", 10000.0));
  rope.type = value_or<std::string>(parameters, "rope_type", value_or<std::string>(parameters, "type", "default"));
  if (rope.type == "default" || rope.type == "linear" || rope.type == "dynamic" || rope.type == "yarn") {
  } else {
    throw InputError(cat(source, ": rope type \"", rope.type, "\" is not supported (default, linear, dynamic, yarn)"));
  }
  rope.factor = value_or<double>(parameters, "factor", 1.0);
  rope.attention_factor = optional_number(parameters, "attention_factor");
  rope.beta_fast = value_or<double>(parameters, "beta_fast", 32.0);
  rope.beta_slow = value_or<double>(parameters, "beta_slow", 1.0);
  rope.mscale = optional_number(parameters, "mscale");
  rope.mscale_all_dim = optional_number(parameters, "mscale_all_dim");
  rope.original_max_position_embeddings = value_or<int64_t>(
      parameters, "original_max_position_embeddings", value_or<int64_t>(json, "max_position_embeddings", 32768));
  rope.truncate = value_or<bool>(parameters, "truncate", true);
  rope.partial_rotary_factor = value_or<double>(parameters, "partial_rotary_factor", value_or<double>(json, "partial_rotary_factor", 1.0));
  if (rope.type != "default" && !(rope.factor > 0)) throw InputError(cat(source, ": rope factor must be positive"));
  return rope;
}

}  // namespace

int64_t ModelConfig::parameter_count() const {
  const int64_t attention = hidden_size * head_dim * (2 * num_attention_heads + 2 * num_key_value_heads);
  const int64_t mlp = 3 * hidden_size * intermediate_size;
  const int64_t per_layer = attention + mlp + 2 * hidden_size + (qk_norm() ? 2 * head_dim : 0) +
                            (qkv_bias() ? head_dim * (num_attention_heads + 2 * num_key_value_heads) : 0);
  return vocab_size * hidden_size * (tie_word_embeddings ? 1 : 2) + num_hidden_layers * per_layer + hidden_size;
}

ModelConfig ModelConfig::from_json(const nlohmann::json& json, const std::string& source) {
  if (!json.is_object()) throw InputError(cat(source, ": not a JSON object"));
  ModelConfig config;
  try {
    config.model_type = value_or<std::string>(json, "model_type", "");
    if (config.model_type != "qwen3" && config.model_type != "qwen2") {
      throw InputError(cat(source, ": model_type \"", config.model_type,
                           "\" is not supported (qwen3 and qwen2 families: Qwen3, Qwen2, Qwen2.5)"));
    }
    config.vocab_size = required_positive(json, "vocab_size", source);
    config.hidden_size = required_positive(json, "hidden_size", source);
    config.intermediate_size = required_positive(json, "intermediate_size", source);
    config.num_hidden_layers = required_positive(json, "num_hidden_layers", source);
    config.num_attention_heads = required_positive(json, "num_attention_heads", source);
    config.num_key_value_heads = value_or<int64_t>(json, "num_key_value_heads", config.num_attention_heads);
    if (config.num_key_value_heads <= 0 || config.num_attention_heads % config.num_key_value_heads != 0) {
      throw InputError(cat(source, ": num_attention_heads (", config.num_attention_heads,
                           ") must be a multiple of num_key_value_heads (", config.num_key_value_heads, ")"));
    }
    config.head_dim = value_or<int64_t>(json, "head_dim", 0);
    if (config.head_dim <= 0) {
      if (config.hidden_size % config.num_attention_heads != 0) {
        throw InputError(cat(source, ": no head_dim and hidden_size is not a multiple of num_attention_heads"));
      }
      config.head_dim = config.hidden_size / config.num_attention_heads;
    }
    config.rms_norm_eps = value_or<double>(json, "rms_norm_eps", 1e-6);
    config.max_position_embeddings = value_or<int64_t>(json, "max_position_embeddings", 32768);
    config.tie_word_embeddings = value_or<bool>(json, "tie_word_embeddings", false);
    config.attention_bias = value_or<bool>(json, "attention_bias", false);
    config.hidden_act = value_or<std::string>(json, "hidden_act", "silu");
    if (config.hidden_act != "silu") {
      throw InputError(cat(source, ": hidden_act \"", config.hidden_act, "\" is not supported (silu)"));
    }
    if (value_or<bool>(json, "use_sliding_window", false)) {
      throw InputError(cat(source, ": use_sliding_window=true is not supported (full attention only)"));
    }
    config.torch_dtype = value_or<std::string>(json, "dtype", value_or<std::string>(json, "torch_dtype", "float32"));
    config.initializer_range = value_or<double>(json, "initializer_range", 0.02);
    config.eos_token_ids = id_list(json.value("eos_token_id", nlohmann::json()));
    if (json.contains("bos_token_id") && json["bos_token_id"].is_number_integer()) config.bos_token_id = json["bos_token_id"].get<int64_t>();
    if (json.contains("pad_token_id") && json["pad_token_id"].is_number_integer()) config.pad_token_id = json["pad_token_id"].get<int64_t>();
    config.rope = parse_rope(json, source);
    if (config.rotary_dim() % 2 != 0 || config.rotary_dim() <= 0) {
      throw InputError(cat(source, ": the rotary dimension (", config.rotary_dim(), ") must be even and positive"));
    }
  } catch (const nlohmann::json::exception& error) {
    throw InputError(cat(source, ": a field has the wrong type (", error.what(), ")"));
  }
  config.raw = json;
  return config;
}

ModelConfig ModelConfig::load(const std::filesystem::path& file_or_folder) {
  if (!std::filesystem::exists(file_or_folder)) {
    throw InputError(cat(file_or_folder.string(), ": no such model folder or config.json"));
  }
  const std::filesystem::path file =
      std::filesystem::is_directory(file_or_folder) ? file_or_folder / "config.json" : file_or_folder;
  if (!std::filesystem::exists(file)) throw InputError(cat(file.string(), ": no such file (a model folder needs config.json)"));
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(read_file_bytes(file));
  } catch (const nlohmann::json::parse_error& error) {
    throw InputError(cat(file.string(), ": not valid JSON (", error.what(), ")"));
  }
  return from_json(json, file.string());
}

nlohmann::json ModelConfig::to_json() const {
  nlohmann::json json = raw.is_object() ? raw : nlohmann::json::object();
  json["architectures"] = {model_type == "qwen3" ? "Qwen3ForCausalLM" : "Qwen2ForCausalLM"};
  json["model_type"] = model_type;
  json["vocab_size"] = vocab_size;
  json["hidden_size"] = hidden_size;
  json["intermediate_size"] = intermediate_size;
  json["num_hidden_layers"] = num_hidden_layers;
  json["num_attention_heads"] = num_attention_heads;
  json["num_key_value_heads"] = num_key_value_heads;
  json["head_dim"] = head_dim;
  json["rms_norm_eps"] = rms_norm_eps;
  json["max_position_embeddings"] = max_position_embeddings;
  json["tie_word_embeddings"] = tie_word_embeddings;
  json["hidden_act"] = hidden_act;
  json["initializer_range"] = initializer_range;
  if (model_type == "qwen3") json["attention_bias"] = attention_bias;
  json["dtype"] = torch_dtype;
  json.erase("torch_dtype");
  if (eos_token_ids.size() == 1) json["eos_token_id"] = eos_token_ids[0];
  else if (!eos_token_ids.empty()) json["eos_token_id"] = eos_token_ids;
  if (bos_token_id) json["bos_token_id"] = *bos_token_id;
  if (pad_token_id) json["pad_token_id"] = *pad_token_id;
  if (!json.contains("rope_parameters") && !json.contains("rope_theta")) {
    nlohmann::json rope_json = {{"rope_type", rope.type}, {"rope_theta", rope.theta}};
    if (rope.type != "default") rope_json["factor"] = rope.factor;
    json["rope_parameters"] = rope_json;
  }
  return json;
}

}  // namespace grlm
