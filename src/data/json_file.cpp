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

namespace {

// SAX pass that records the item ids (keys at depth 1) in file order and stops at a repeated one.
// nlohmann's callback parser rescans the parent object at every object end (quadratic), hence a
// separate pass before the plain DOM parse.
class TopLevelKeys : public nlohmann::json_sax<nlohmann::json> {
 public:
  std::vector<std::string> keys;
  std::string repeated;
  size_t error_byte = 0;
  std::string error_text;

  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override {
    ++depth_;
    return true;
  }
  bool key(string_t& key) override {
    if (depth_ != 1) return true;
    if (!seen_.insert(key).second) {
      repeated = key;
      return false;
    }
    keys.push_back(key);
    return true;
  }
  bool end_object() override {
    --depth_;
    return true;
  }
  bool start_array(std::size_t) override {
    ++depth_;
    return true;
  }
  bool end_array() override {
    --depth_;
    return true;
  }
  bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception& error) override {
    error_byte = position;
    error_text = error.what();
    return false;
  }

 private:
  int depth_ = 0;
  std::unordered_set<std::string> seen_;
};

}  // namespace

JsonObjectFile read_json_object_file(const std::filesystem::path& file, std::string_view what) {
  const std::string text = read_file_bytes(file);
  if (const auto bad = find_invalid_utf8(text)) {
    throw InputError(cat(what, " ", file.string(), ": ", describe_position(text, *bad),
                         ": invalid UTF-8 byte sequence"));
  }
  TopLevelKeys scan;
  if (!nlohmann::json::sax_parse(text, &scan)) {
    if (!scan.repeated.empty()) {
      throw InputError(cat(what, " ", file.string(), ": item id \"", scan.repeated, "\" appears twice"));
    }
    // error_byte is 1-based and points just past the offending character.
    const size_t offset = scan.error_byte > 0 ? scan.error_byte - 1 : 0;
    std::string reason = scan.error_text;
    if (const size_t colon = reason.find(": "); colon != std::string::npos) reason = reason.substr(colon + 2);
    throw InputError(cat(what, " ", file.string(), ": ", describe_position(text, offset), ": not valid JSON: ", reason));
  }
  JsonObjectFile result;
  result.document = nlohmann::json::parse(text);
  if (!result.document.is_object()) {
    throw InputError(cat(what, " ", file.string(), ": expected a JSON object keyed by item id at the top"));
  }
  result.keys_in_order = std::move(scan.keys);
  return result;
}

}  // namespace grlm
