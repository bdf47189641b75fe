// Unicode helpers of the text layer (internal): code points, Rust's character classes that
// `tokenizers` relies on, normalization forms through utf8proc.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace grlm::text {

// Decodes the code point at `position` of valid UTF-8 and advances `position` past it.
char32_t next_code_point(std::string_view text, size_t& position);
void append_utf8(std::string& out, char32_t code_point);
size_t utf8_length(unsigned char lead);  // bytes of the sequence that starts with `lead`

bool is_whitespace(char32_t c);    // Rust char::is_whitespace (Unicode White_Space)
bool is_alphanumeric(char32_t c);  // Rust char::is_alphanumeric (letters and numbers)

enum class NormalForm { NFC, NFD, NFKC, NFKD };
std::string normalize(std::string_view text, NormalForm form);
std::string to_lowercase(std::string_view text);  // per character, as Rust's char::to_lowercase
std::string strip_accents(std::string_view text);  // drops combining marks (Mn, Mc, Me)

}  // namespace grlm::text
