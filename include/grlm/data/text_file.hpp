// Reading input files whole, with positions that errors can name (file:line:column).
#pragma once

#include <cstddef>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace grlm {

// The file's bytes; InputError naming the file when it cannot be read.
std::string read_file_bytes(const std::filesystem::path& file);

// Writes `text` to FILE.partial and renames it to `file`: readers never see half a file.
void write_file_atomically(const std::filesystem::path& file, const std::string& text);

// `text` without the blank lines (whitespace only) at its end: editors and scripts leave them; a
// blank line between records is still the loader's to refuse.
inline std::string_view without_trailing_blank_lines(std::string_view text) {
  const size_t last = text.find_last_not_of(" \t\r\n");
  if (last == std::string_view::npos) return {};
  const size_t line_end = text.find('\n', last);
  return text.substr(0, line_end == std::string_view::npos ? text.size() : line_end + 1);
}

// Calls on_line(line_number, line) for every line of `text`, 1-based, without its "\n" or
// "\r\n"; a final line without a newline counts, an empty text has no lines.
template <class OnLine>
void for_each_line(std::string_view text, OnLine&& on_line) {
  size_t start = 0;
  size_t line_number = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    on_line(++line_number, line);
    start = end + 1;
  }
}

// Byte offset of the first invalid UTF-8 sequence (overlong forms, surrogates and code points above
// U+10FFFF count as invalid), or nullopt when the text is valid UTF-8.
std::optional<size_t> find_invalid_utf8(std::string_view text);

// 1-based line and column of a byte offset, as "line 12, column 7".
std::string describe_position(std::string_view text, size_t byte_offset);

// Streams a JSON file whose top level is an object keyed by item id: calls `on_entry(id, value)`
// for each entry in file order, with only that entry's value in memory (a 1 M-item catalog never
// becomes one DOM). Errors name the file, line and column (invalid UTF-8 included), a repeated
// item id, or a top level that is not an object; `on_entry` may throw its own InputError.
void for_each_json_entry(const std::filesystem::path& file, std::string_view what,
                         const std::function<void(const std::string& id, nlohmann::json& value)>& on_entry);

}  // namespace grlm
