#include <nlohmann/json.hpp>

#include "grlm/core/error.hpp"
#include "grlm/data/text_file.hpp"
#include "grlm/model/checkpoint.hpp"
#include "grlm/text/tokenizer.hpp"

namespace grlm {

namespace fs = std::filesystem;

GenerationDefaults generation_defaults(const fs::path& folder, const ModelConfig& config) {
  GenerationDefaults defaults;
  std::optional<int64_t> pad;
  const fs::path generation_file = folder / "generation_config.json";
  if (fs::exists(generation_file)) {
    try {
      const nlohmann::json generation = nlohmann::json::parse(read_file_bytes(generation_file));
      if (generation.contains("eos_token_id") && !generation["eos_token_id"].is_null()) {
        const nlohmann::json& eos = generation["eos_token_id"];
        defaults.eos_token_ids = eos.is_array() ? eos.get<std::vector<int64_t>>() : std::vector<int64_t>{eos.get<int64_t>()};
      }
      if (generation.contains("pad_token_id") && generation["pad_token_id"].is_number_integer()) {
        pad = generation["pad_token_id"].get<int64_t>();
      }
    } catch (const nlohmann::json::exception& error) {
      throw InputError(cat(generation_file.string(), ": ", error.what()));
    }
  }
  if (defaults.eos_token_ids.empty()) defaults.eos_token_ids = config.eos_token_ids;
  if (!pad) pad = config.pad_token_id;
  if ((defaults.eos_token_ids.empty() || !pad) && fs::exists(folder / "tokenizer.json")) {
    const TokenizerConfig tokenizer_config = load_tokenizer_config(folder);
    const Tokenizer tokenizer = Tokenizer::load(folder);
    if (defaults.eos_token_ids.empty() && tokenizer_config.eos_token) {
      if (const auto id = tokenizer.token_to_id(*tokenizer_config.eos_token)) defaults.eos_token_ids.push_back(*id);
    }
    if (!pad && tokenizer_config.pad_token) {
      if (const auto id = tokenizer.token_to_id(*tokenizer_config.pad_token)) pad = *id;
    }
  }
  defaults.pad_token_id = pad ? *pad : (defaults.eos_token_ids.empty() ? 0 : defaults.eos_token_ids.front());
  return defaults;
}

}  // namespace grlm
