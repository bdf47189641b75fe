#include <fstream>
#include <sstream>
#include <unordered_set>

#include "grlm/core/error.hpp"
#include "grlm/data/text_file.hpp"

namespace grlm {

std::string read_file_bytes(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw InputError(cat("cannot read ", file.string(), ": no such file or not readable"));
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) throw InputError(cat("error while reading ", file.string()));
  return buffer.str();
}

nlohmann::ordered_json read_json_file(const std::filesystem::path& file, std::string_view what) {
  const std::string text = read_file_bytes(file);
  if (const auto bad = find_invalid_utf8(text)) {
    throw InputError(cat(what, " ", file.string(), ": ", describe_position(text, *bad),
                         ": invalid UTF-8 byte sequence"));
  }
  // Both formats are objects keyed by item id; a repeated id would silently drop data.
  std::unordered_set<std::string> top_level_keys;
  auto reject_repeated_ids = [&](int depth, nlohmann::json::parse_event_t event,
                                 nlohmann::ordered_json& parsed) {
    if (depth == 1 && event == nlohmann::json::parse_event_t::key) {
      const std::string& key = parsed.get_ref<const std::string&>();
      if (!top_level_keys.insert(key).second) {
        throw InputError(cat(what, " ", file.string(), ": item id \"", key, "\" appears twice"));
      }
    }
    return true;
  };
  try {
    return nlohmann::ordered_json::parse(text, reject_repeated_ids);
  } catch (const nlohmann::json::parse_error& error) {
    // error.byte is 1-based and points just past the offending character.
    const size_t offset = error.byte > 0 ? error.byte - 1 : 0;
    std::string reason = error.what();
    if (const size_t colon = reason.find(": "); colon != std::string::npos) reason = reason.substr(colon + 2);
    throw InputError(cat(what, " ", file.string(), ": ", describe_position(text, offset),
                         ": not valid JSON: ", reason));
  }
}

}  // namespace grlm
