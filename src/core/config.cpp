#include "grlm/core/config.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include "grlm/core/error.hpp"

namespace grlm {
namespace {

using nlohmann::json;

// A value as JSON text for a message; bytes that are not UTF-8 (a --set from a mangled shell
// line) show as U+FFFD instead of throwing.
std::string shown(const json& value) { return value.dump(-1, ' ', false, json::error_handler_t::replace); }

std::vector<std::string> split_dotted(std::string_view key) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    const size_t dot = key.find('.', start);
    parts.emplace_back(key.substr(start, dot == std::string_view::npos ? key.npos : dot - start));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return parts;
}

const ConfigKey* find_key(const ConfigSchema& schema, std::string_view path) {
  for (const ConfigKey& key : schema) {
    if (key.path == path) return &key;
  }
  return nullptr;
}

bool is_group(const ConfigSchema& schema, std::string_view path) {
  const std::string prefix = std::string(path) + ".";
  return std::any_of(schema.begin(), schema.end(),
                     [&](const ConfigKey& key) { return key.path.starts_with(prefix); });
}

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> previous(b.size() + 1);
  std::vector<size_t> current(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) previous[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    current[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      current[j] = std::min({previous[j] + 1, current[j - 1] + 1, substitution});
    }
    std::swap(previous, current);
  }
  return previous[b.size()];
}

std::string suggestion(const ConfigSchema& schema, std::string_view unknown) {
  const std::string nearest = nearest_key(schema, unknown);
  return nearest.empty() ? std::string() : cat(" (did you mean '", nearest, "'?)");
}

json& node_at(json& tree, std::string_view dotted) {
  json* node = &tree;
  for (const std::string& part : split_dotted(dotted)) node = &(*node)[part];
  return *node;
}

void check_choice(const ConfigKey& key, const std::string& value, const std::string& where) {
  if (key.choices.empty() || std::find(key.choices.begin(), key.choices.end(), value) != key.choices.end()) return;
  throw UsageError(cat("config key '", key.path, "' ", where, ": '", value, "' is not one of ", join(key.choices, ", ")));
}

json checked_range(const ConfigKey& key, json value, const std::string& where) {
  if (!key.range.contains(value.get<double>())) {
    throw UsageError(cat("config key '", key.path, "' ", where, ": ", shown(value), " is out of range (must be ",
                         key.range.text(), ")"));
  }
  return value;
}

// Checks `value` against the key's type, choices and range; returns it normalised (e.g. 3.0 → 3
// for integers).
json checked_value(const ConfigKey& key, const json& value, const std::string& where) {
  if (value.is_null()) return value;
  auto mismatch = [&]() {
    return UsageError(cat("config key '", key.path, "' ", where, ": expected ",
                          value_type_name(key.type), ", got ", shown(value)));
  };
  switch (key.type) {
    case ValueType::String:
      if (!value.is_string()) throw mismatch();
      check_choice(key, value.get<std::string>(), where);
      return value;
    case ValueType::Integer:
      if (value.is_number_integer()) return checked_range(key, value, where);
      if (value.is_number_float() && std::nearbyint(value.get<double>()) == value.get<double>()) {
        return checked_range(key, json(static_cast<int64_t>(value.get<double>())), where);
      }
      throw mismatch();
    case ValueType::Number:
      if (!value.is_number()) throw mismatch();
      return checked_range(key, value, where);
    case ValueType::Boolean:
      if (!value.is_boolean()) throw mismatch();
      return value;
    case ValueType::StringList:
      if (!value.is_array() ||
          !std::all_of(value.begin(), value.end(), [](const json& item) { return item.is_string(); })) {
        throw mismatch();
      }
      for (const json& item : value) check_choice(key, item.get<std::string>(), where);
      return value;
  }
  throw mismatch();
}

std::string line_and_column(const std::string& text, size_t byte_offset) {
  size_t line = 1;
  size_t column = 1;
  for (size_t i = 0; i < byte_offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return cat(line, ":", column);
}

json read_config_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw UsageError(cat("cannot read config file ", file.string()));
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();
  try {
    return json::parse(text);
  } catch (const json::parse_error& error) {
    throw UsageError(cat("config file ", file.string(), ":", line_and_column(text, error.byte - 1),
                         ": not valid JSON: ", error.what()));
  } catch (const json::exception& error) {  // e.g. a number too large for a double (found by fuzzing)
    throw UsageError(cat("config file ", file.string(), ": not valid JSON: ", error.what()));
  }
}

using Sources = std::map<std::string, std::string, std::less<>>;

void apply_file_object(const ConfigSchema& schema, const json& object, const std::string& prefix,
                       const std::string& file, json& tree, Sources& sources) {
  for (const auto& [name, value] : object.items()) {
    const std::string path = prefix.empty() ? name : prefix + "." + name;
    if (const ConfigKey* key = find_key(schema, path)) {
      node_at(tree, path) = checked_value(*key, value, cat("in ", file));
      sources[path] = cat("in ", file);
    } else if (is_group(schema, path)) {
      if (!value.is_object()) {
        throw UsageError(cat("config key '", path, "' in ", file, ": expected an object of ", path,
                             ".* keys, got ", shown(value)));
      }
      apply_file_object(schema, value, path, file, tree, sources);
    } else {
      throw UsageError(cat("unknown config key '", path, "' in ", file, suggestion(schema, path)));
    }
  }
}

void apply_override(const ConfigSchema& schema, const std::string& assignment, json& tree, Sources& sources) {
  const size_t equals = assignment.find('=');
  if (equals == std::string::npos || equals == 0) {
    throw UsageError(cat("--set '", assignment, "': expected KEY=VALUE, e.g. --set train.lr=2e-5"));
  }
  const std::string path = assignment.substr(0, equals);
  const std::string text = assignment.substr(equals + 1);
  try {
    (void)json(assignment).dump();  // the effective config is stored as JSON: it must be UTF-8
  } catch (const json::type_error&) {
    throw UsageError(cat("--set ", shown(json(assignment)), ": not valid UTF-8"));
  }
  const ConfigKey* key = find_key(schema, path);
  if (key == nullptr) {
    throw UsageError(cat("unknown config key '", path, "' in --set ", assignment,
                         suggestion(schema, path)));
  }
  json value = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) {
    value = text;  // not JSON: a bare string such as runs/beauty
  }
  if (key->type == ValueType::String && !value.is_string() && !value.is_null()) value = text;
  if (key->type == ValueType::StringList && value.is_string()) {
    json list = json::array();
    std::stringstream items(text);
    for (std::string item; std::getline(items, item, ',');) list.push_back(item);
    value = list;
  }
  node_at(tree, path) = checked_value(*key, value, cat("in --set ", assignment));
  sources[path] = cat("in --set ", assignment);
}

}  // namespace

bool ValueRange::contains(double value) const {
  const bool above = minimum_open ? value > minimum : value >= minimum;
  const bool below = maximum_open ? value < maximum : value <= maximum;
  return above && below;
}

std::string ValueRange::text() const {
  const bool bounded_below = std::isfinite(minimum), bounded_above = std::isfinite(maximum);
  const auto number = [](double value) {
    return std::nearbyint(value) == value && std::fabs(value) < 1e15 ? json(static_cast<int64_t>(value)).dump() : json(value).dump();
  };
  if (bounded_below && bounded_above) {
    return cat("in ", minimum_open ? "(" : "[", number(minimum), ", ", number(maximum), maximum_open ? ")" : "]");
  }
  if (bounded_below) return cat(minimum_open ? "> " : ">= ", number(minimum));
  if (bounded_above) return cat(maximum_open ? "< " : "<= ", number(maximum));
  return "any number";
}

std::string_view value_type_name(ValueType type) {
  switch (type) {
    case ValueType::String: return "a string";
    case ValueType::Integer: return "an integer";
    case ValueType::Number: return "a number";
    case ValueType::Boolean: return "true or false";
    case ValueType::StringList: return "a list of strings";
  }
  return "?";
}

std::string nearest_key(const ConfigSchema& schema, std::string_view unknown) {
  std::string best;
  size_t best_distance = std::max<size_t>(3, unknown.size() / 3) + 1;
  for (const ConfigKey& key : schema) {
    size_t distance = edit_distance(unknown, key.path);
    // A right name under the wrong group ("lr" for "train.lr") is a near miss too.
    const size_t dot = key.path.rfind('.');
    if (dot != std::string::npos && key.path.substr(dot + 1) == unknown) distance = 1;
    if (distance < best_distance) {
      best_distance = distance;
      best = key.path;
    }
  }
  return best;
}

Config Config::load(const ConfigSchema& schema, const std::optional<std::filesystem::path>& file,
                    const std::vector<std::string>& overrides) {
  if (!file) return load_object(schema, json::object(), "defaults", overrides);
  const json object = read_config_file(*file);
  if (!object.is_object()) {
    throw UsageError(cat("config file ", file->string(), ": expected a JSON object at the top"));
  }
  return load_object(schema, object, file->string(), overrides);
}

namespace {

// A recorded tree holds every key, null where unset: null means "the default".
json without_nulls(const json& object) {
  json kept = json::object();
  for (const auto& [name, value] : object.items()) {
    if (value.is_null()) continue;
    kept[name] = value.is_object() ? without_nulls(value) : value;
  }
  return kept;
}

}  // namespace

Config Config::load_object(const ConfigSchema& schema, const json& object, const std::string& source,
                           const std::vector<std::string>& overrides) {
  Config config;
  config.schema_ = &schema;
  config.tree_ = json::object();
  for (const ConfigKey& key : schema) node_at(config.tree_, key.path) = key.default_value;
  config.source_ = source;
  if (source != "defaults") apply_file_object(schema, without_nulls(object), "", source, config.tree_, config.sources_);
  for (const std::string& assignment : overrides) apply_override(schema, assignment, config.tree_, config.sources_);
  return config;
}

std::string Config::described(std::string_view key) const {
  return cat(key, " (", shown(value(key)), ", ", source_of(key), ")");
}

std::string Config::source_of(std::string_view key) const {
  const auto found = sources_.find(key);
  return found == sources_.end() ? std::string("default") : found->second;
}

const json& Config::value(std::string_view key) const {
  if (find_key(*schema_, key) == nullptr) {
    throw Error(cat("internal: config key '", key, "' is not in the schema"));
  }
  const json* node = &tree_;
  for (const std::string& part : split_dotted(key)) node = &node->at(part);
  return *node;
}

bool Config::has(std::string_view key) const { return !value(key).is_null(); }

std::string Config::get_string(std::string_view key) const {
  const json& node = value(key);
  if (node.is_null()) throw UsageError(cat("config key '", key, "' must be set (", source_, ")"));
  return node.get<std::string>();
}

std::optional<std::string> Config::get_optional_string(std::string_view key) const {
  const json& node = value(key);
  if (node.is_null()) return std::nullopt;
  return node.get<std::string>();
}

int64_t Config::get_int(std::string_view key) const {
  const json& node = value(key);
  if (node.is_null()) throw UsageError(cat("config key '", key, "' must be set (", source_, ")"));
  return node.get<int64_t>();
}

double Config::get_number(std::string_view key) const {
  const json& node = value(key);
  if (node.is_null()) throw UsageError(cat("config key '", key, "' must be set (", source_, ")"));
  return node.get<double>();
}

bool Config::get_bool(std::string_view key) const {
  const json& node = value(key);
  if (node.is_null()) throw UsageError(cat("config key '", key, "' must be set (", source_, ")"));
  return node.get<bool>();
}

std::vector<std::string> Config::get_string_list(std::string_view key) const {
  const json& node = value(key);
  if (node.is_null()) return {};
  return node.get<std::vector<std::string>>();
}

json Config::select(const std::vector<std::string>& prefixes) const {
  json selected = json::object();
  for (const ConfigKey& key : *schema_) {
    for (const std::string& prefix : prefixes) {
      if (key.path == prefix || key.path.starts_with(prefix + ".")) {
        selected[key.path] = value(key.path);
        break;
      }
    }
  }
  return selected;  // nlohmann::json objects iterate in sorted key order, so dumps are stable
}

std::vector<std::string> result_keys(const ConfigSchema& schema, const std::string& group) {
  std::vector<std::string> keys;
  for (const ConfigKey& key : schema) {
    if (key.path.starts_with(group + ".") && key.effect == Effect::Result) keys.push_back(key.path);
  }
  return keys;
}

}  // namespace grlm
