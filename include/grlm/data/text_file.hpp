// Reading input files whole, with positions that errors can name (file:line:column).
#pragma once

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace grlm {

// The file's bytes; InputError naming the file when it cannot be read.
std::string read_file_bytes(const std::filesystem::path& file);

// Byte offset of the first invalid UTF-8 sequence (overlong forms, surrogates and code points above
// U+10FFFF count as invalid), or nullopt when the text is valid UTF-8.
std::optional<size_t> find_invalid_utf8(std::string_view text);

// 1-based line and column of a byte offset, as "line 12, column 7".
std::string describe_position(std::string_view text, size_t byte_offset);

// A JSON file whose top level is an object keyed by item id, with the ids in file order (item
// order is the file's order; nlohmann::ordered_json would cost O(n^2) to build for big catalogs).
struct JsonObjectFile {
  nlohmann::json document;
  std::vector<std::string> keys_in_order;
};

// Errors name the file, line and column (invalid UTF-8 included) or the repeated item id.
JsonObjectFile read_json_object_file(const std::filesystem::path& file, std::string_view what);

}  // namespace grlm
