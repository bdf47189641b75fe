#define PCRE2_CODE_UNIT_WIDTH 8
#include "regex.hpp"

#include <pcre2.h>

#include "grlm/core/error.hpp"

namespace grlm::text {

struct Regex::Compiled {
  pcre2_code* code = nullptr;
  ~Compiled() { pcre2_code_free(code); }
};

// Oniguruma's Unicode \s: the White_Space property (PCRE2 adds U+180E and lacks U+0085).
constexpr const char* kSpaceClass =
    "\\t\\n\\x{0B}\\f\\r\\x{20}\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}";
// Oniguruma's Unicode \w (UTS #18): Alphabetic, marks, decimal digits, connector punctuation,
// and the zero-width joiners.
constexpr const char* kWordClass = "\\p{Alphabetic}\\p{M}\\p{Nd}\\p{Pc}\\p{Join_Control}";

std::string oniguruma_compatible(const std::string& pattern) {
  std::string out;
  bool in_class = false;
  for (size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '\\' && i + 1 < pattern.size()) {
      const char next = pattern[i + 1];
      if (next == 's') {
        out += in_class ? kSpaceClass : std::string("[") + kSpaceClass + "]";
      } else if (next == 'S' && !in_class) {
        out += std::string("[^") + kSpaceClass + "]";
      } else if (next == 'w') {
        out += in_class ? kWordClass : std::string("[") + kWordClass + "]";
      } else if (next == 'W' && !in_class) {
        out += std::string("[^") + kWordClass + "]";
      } else {
        out += c;
        out += next;
      }
      ++i;
      continue;
    }
    if (c == '[' && !in_class) {
      in_class = true;
    } else if (c == ']' && in_class) {
      in_class = false;
    }
    out += c;
  }
  return out;
}

Regex::Regex(const std::string& pattern, const std::string& where) : compiled_(std::make_unique<Compiled>()) {
  int error_code = 0;
  PCRE2_SIZE error_offset = 0;
  const std::string translated = oniguruma_compatible(pattern);
  compiled_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(translated.data()), translated.size(),
                                  PCRE2_UTF | PCRE2_UCP | PCRE2_NO_UTF_CHECK, &error_code, &error_offset, nullptr);
  if (compiled_->code == nullptr) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error_code, message, sizeof message);
    throw Error(cat(where, ": regex /", pattern, "/ does not compile at offset ", error_offset, ": ",
                    reinterpret_cast<const char*>(message)));
  }
  // JIT makes matching several times faster; without it (unsupported CPU) matching still works.
  pcre2_jit_compile(compiled_->code, PCRE2_JIT_COMPLETE);
}

Regex::~Regex() = default;
Regex::Regex(Regex&&) noexcept = default;
Regex& Regex::operator=(Regex&&) noexcept = default;

namespace {

// One match-data block and JIT stack per thread, reused across calls.
struct ThreadMatchState {
  pcre2_match_data* data = pcre2_match_data_create(16, nullptr);
  pcre2_jit_stack* stack = pcre2_jit_stack_create(32 * 1024, 4 * 1024 * 1024, nullptr);
  pcre2_match_context* context = pcre2_match_context_create(nullptr);
  ThreadMatchState() { pcre2_jit_stack_assign(context, nullptr, stack); }
  ~ThreadMatchState() {
    pcre2_match_context_free(context);
    pcre2_jit_stack_free(stack);
    pcre2_match_data_free(data);
  }
};

}  // namespace

std::vector<std::pair<size_t, size_t>> Regex::find_all(std::string_view text) const {
  thread_local ThreadMatchState state;
  std::vector<std::pair<size_t, size_t>> matches;
  size_t offset = 0;
  while (offset <= text.size()) {
    const int result = pcre2_match(compiled_->code, reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(), offset,
                                   PCRE2_NO_UTF_CHECK, state.data, state.context);
    if (result == PCRE2_ERROR_NOMATCH) break;
    if (result < 0) {
      PCRE2_UCHAR message[256];
      pcre2_get_error_message(result, message, sizeof message);
      throw Error(cat("regex matching failed: ", reinterpret_cast<const char*>(message)));
    }
    const PCRE2_SIZE* vector = pcre2_get_ovector_pointer(state.data);
    const size_t start = vector[0];
    const size_t end = vector[1];
    if (end == start) {
      // An empty match: move on by one character so the search always advances.
      if (start >= text.size()) break;
      size_t next = start + 1;
      while (next < text.size() && (static_cast<unsigned char>(text[next]) & 0xC0) == 0x80) ++next;
      offset = next;
      continue;
    }
    matches.emplace_back(start, end);
    offset = end;
  }
  return matches;
}

}  // namespace grlm::text
