// A compiled PCRE2 pattern (UTF, Unicode properties, JIT) that lists its non-overlapping matches.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace grlm::text {

class Regex {
 public:
  // Throws Error naming `where` when the pattern does not compile.
  Regex(const std::string& pattern, const std::string& where);
  ~Regex();
  Regex(Regex&&) noexcept;
  Regex& operator=(Regex&&) noexcept;
  // [start, end) byte ranges of the matches, left to right; thread-safe.
  std::vector<std::pair<size_t, size_t>> find_all(std::string_view text) const;

 private:
  struct Compiled;
  std::unique_ptr<Compiled> compiled_;
};

// Oniguruma (which `tokenizers` uses) and PCRE2 differ on \s (U+0085, U+180E) and \w (Alphabetic, marks, joiners; other
// numbers): rewrites \s, \S, \w and \W into explicit classes with Oniguruma's meaning.
std::string oniguruma_compatible(const std::string& pattern);

}  // namespace grlm::text
