// What a TID word may hold (GRLM-SPEC compat), shared by the TID loader and the TID parser.
#include "grlm/core/error.hpp"
#include "grlm/data/dataset.hpp"
#include "grlm/data/text_file.hpp"

namespace grlm {
namespace {

// C0 controls, DEL, and the C1 controls U+0080..U+009F (UTF-8 C2 80..C2 9F).
std::optional<size_t> control_character_at(std::string_view word) {
  for (size_t i = 0; i < word.size(); ++i) {
    const auto byte = static_cast<unsigned char>(word[i]);
    if (byte < 0x20 || byte == 0x7F) return i;
    if (byte == 0xC2 && i + 1 < word.size() && static_cast<unsigned char>(word[i + 1]) <= 0x9F) return i;
  }
  return std::nullopt;
}

}  // namespace

std::string_view tid_word_trimmed(std::string_view word) {
  const auto strip = [](char c) {
    const bool ascii_space = c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
    return ascii_space || kTidStrippedCharacters.find(c) != std::string_view::npos;
  };
  while (!word.empty() && strip(word.front())) word.remove_prefix(1);
  while (!word.empty() && strip(word.back())) word.remove_suffix(1);
  return word;
}

std::optional<std::string> tid_word_problem(std::string_view word) {
  if (word.empty()) return "the word is empty";
  if (const size_t at = word.find_first_of("[],"); at != std::string_view::npos) {
    return cat("the word holds '", word[at], "', a delimiter of the TID line \"[w1, w2, w3, w4, w5]\"");
  }
  if (const std::optional<size_t> at = control_character_at(word)) {
    return cat("the word holds a control character (byte ", static_cast<int>(static_cast<unsigned char>(word[*at])),
               " at offset ", *at, ")");
  }
  if (tid_word_trimmed(word).empty()) {
    return "the word is empty once the TID parser trims it (whitespace, quotes, brackets and . ; : ! ? at its ends)";
  }
  if (const std::optional<size_t> at = find_invalid_utf8(word)) return cat("the word is not valid UTF-8 (byte offset ", *at, ")");
  return std::nullopt;
}

}  // namespace grlm
