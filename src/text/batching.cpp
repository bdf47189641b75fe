#include <nlohmann/json.hpp>

#include "grlm/core/error.hpp"
#include "grlm/data/text_file.hpp"
#include "grlm/text/tokenizer.hpp"

namespace grlm {

void truncate(std::vector<TokenId>& ids, size_t max_length, Side side) {
  if (max_length == 0 || ids.size() <= max_length) return;
  if (side == Side::Right) {
    ids.resize(max_length);
  } else {
    ids.erase(ids.begin(), ids.end() - static_cast<std::ptrdiff_t>(max_length));
  }
}

PaddedBatch pad_batch(const std::vector<std::vector<TokenId>>& sequences, TokenId pad_id, Side side,
                      size_t pad_to_multiple_of) {
  PaddedBatch batch;
  batch.rows = sequences.size();
  for (const auto& sequence : sequences) batch.columns = std::max(batch.columns, sequence.size());
  const size_t multiple = std::max<size_t>(1, pad_to_multiple_of);
  batch.columns = (batch.columns + multiple - 1) / multiple * multiple;
  batch.ids.assign(batch.rows * batch.columns, pad_id);
  batch.attention_mask.assign(batch.rows * batch.columns, 0);
  for (size_t row = 0; row < batch.rows; ++row) {
    const auto& sequence = sequences[row];
    const size_t offset = row * batch.columns + (side == Side::Left ? batch.columns - sequence.size() : 0);
    std::copy(sequence.begin(), sequence.end(), batch.ids.begin() + static_cast<std::ptrdiff_t>(offset));
    std::fill_n(batch.attention_mask.begin() + static_cast<std::ptrdiff_t>(offset), sequence.size(), uint8_t{1});
  }
  return batch;
}

TokenizerConfig load_tokenizer_config(const std::filesystem::path& path) {
  const std::filesystem::path file = std::filesystem::is_directory(path) ? path / "tokenizer_config.json" : path;
  TokenizerConfig config;
  if (!std::filesystem::exists(file)) return config;
  const nlohmann::json json = nlohmann::json::parse(read_file_bytes(file), nullptr, false);
  if (json.is_discarded() || !json.is_object()) throw InputError(cat(file.string(), ": not a JSON object"));
  auto token = [&](const char* key) -> std::optional<std::string> {
    const auto found = json.find(key);
    if (found == json.end() || found->is_null()) return std::nullopt;
    if (found->is_string()) return found->get<std::string>();
    if (found->is_object() && found->contains("content") && (*found)["content"].is_string()) {
      return (*found)["content"].get<std::string>();
    }
    throw InputError(cat(file.string(), ": ", key, ": expected a string or {\"content\": ...}"));
  };
  config.bos_token = token("bos_token");
  config.eos_token = token("eos_token");
  config.pad_token = token("pad_token");
  config.unk_token = token("unk_token");
  config.has_chat_template = json.contains("chat_template") && !json["chat_template"].is_null();
  return config;
}

}  // namespace grlm
