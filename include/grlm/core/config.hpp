// The pipeline config: a JSON file over built-in defaults, plus dotted `--set a.b=value`
// overrides, validated against a schema so every error names the key and where it came from.
#pragma once

#include <cstdint>
#include <filesystem>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace grlm {

enum class ValueType { String, Integer, Number, Boolean, StringList };

// The values a number key allows: [minimum, maximum], either end open when marked.
struct ValueRange {
  double minimum = -std::numeric_limits<double>::infinity();
  double maximum = std::numeric_limits<double>::infinity();
  bool minimum_open = false;  // minimum itself not allowed
  bool maximum_open = false;
  bool contains(double value) const;
  std::string text() const;   // e.g. ">= 1", "in [0, 1)", "> 0"
};

// Whether a key's value changes what its stage computes (it is in the stage's hash: a change
// recomputes the stage) or only how (checkpoint cadence, logging, memory layout: a change resumes).
enum class Effect { Result, HowOnly };

struct ConfigKey {
  ConfigKey(std::string path, ValueType type, nlohmann::json default_value, std::string help,
            std::vector<std::string> choices = {}, ValueRange range = {}, Effect effect = Effect::Result)
      : path(std::move(path)), type(type), default_value(std::move(default_value)), help(std::move(help)),
        choices(std::move(choices)), range(range), effect(effect) {}

  std::string path;                     // dotted key, e.g. "train.lr"
  ValueType type;                       // what a value must be
  nlohmann::json default_value;         // null: optional with no default
  std::string help;                     // one line for `grlm --help` and docs/CONFIG.md
  std::vector<std::string> choices;     // allowed values of a string key or list element (empty: any)
  ValueRange range;                     // allowed values of an integer or number key
  Effect effect = Effect::Result;
};


using ConfigSchema = std::vector<ConfigKey>;

// The keys under `group` ("train") whose value changes their stage's result (Effect::Result):
// the stage's hash covers exactly these.
std::vector<std::string> result_keys(const ConfigSchema& schema, const std::string& group);

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
  // The same from a JSON object already read (e.g. the config a run recorded in its store; null
  // values mean unset); `source` names it in messages.
  static Config load_object(const ConfigSchema& schema, const nlohmann::json& object, const std::string& source,
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
  // Where a key's value came from: "in FILE", "in --set KEY=VALUE" or "default".
  std::string source_of(std::string_view key) const;
  // "train.micro_batch_size (16, in --set train.micro_batch_size=16)": a key for a message.
  std::string described(std::string_view key) const;

 private:
  const nlohmann::json& value(std::string_view key) const;
  const ConfigSchema* schema_ = nullptr;
  nlohmann::json tree_;  // nested, every schema key present (null where unset)
  std::string source_;   // the file name or "defaults", for messages
  std::map<std::string, std::string, std::less<>> sources_;  // key -> where its value came from (unset: default)
};

}  // namespace grlm
