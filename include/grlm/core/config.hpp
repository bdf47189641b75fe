// The pipeline config: a JSON file over built-in defaults, plus dotted `--set a.b=value`
// overrides, validated against a schema so every error names the key and where it came from.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace grlm {

enum class ValueType { String, Integer, Number, Boolean, StringList };

struct ConfigKey {
  std::string path;                     // dotted key, e.g. "train.lr"
  ValueType type;                       // what a value must be
  nlohmann::json default_value;         // null: optional with no default
  std::string help;                     // one line for `grlm --help` and docs/CONFIG.md
  std::vector<std::string> choices;     // allowed values of a string key (empty: any)
};

using ConfigSchema = std::vector<ConfigKey>;

// The schema of grlm's own config (src/core/config_schema.cpp).
const ConfigSchema& grlm_config_schema();

std::string_view value_type_name(ValueType type);

// The schema key closest to `unknown` by edit distance (empty when nothing is close).
std::string nearest_key(const ConfigSchema& schema, std::string_view unknown);

class Config {
 public:
  // Defaults, then `file` (when given), then `overrides` ("a.b=value"; the value is read as JSON
  // when it parses as JSON, else as a string). Throws UsageError naming the key and its source.
  static Config load(const ConfigSchema& schema, const std::optional<std::filesystem::path>& file,
                     const std::vector<std::string>& overrides);

  bool has(std::string_view key) const;  // set and not null
  std::string get_string(std::string_view key) const;
  std::optional<std::string> get_optional_string(std::string_view key) const;
  int64_t get_int(std::string_view key) const;
  double get_number(std::string_view key) const;
  bool get_bool(std::string_view key) const;
  std::vector<std::string> get_string_list(std::string_view key) const;

  // Every key of the schema under `prefix` (a key or a group) with its effective value, as a flat
  // sorted object: the input of a stage's config hash.
  nlohmann::json select(const std::vector<std::string>& prefixes) const;
  // The whole effective config as nested JSON (stored in the run store).
  const nlohmann::json& tree() const { return tree_; }
  std::string source() const { return source_; }

 private:
  const nlohmann::json& value(std::string_view key) const;
  const ConfigSchema* schema_ = nullptr;
  nlohmann::json tree_;  // nested, every schema key present (null where unset)
  std::string source_;   // the file name or "defaults", for messages
};

}  // namespace grlm
