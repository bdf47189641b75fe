#include "components.hpp"
#include "grlm/core/error.hpp"
#include "regex.hpp"
#include "unicode.hpp"

namespace grlm::text {

const std::array<std::string, 256>& byte_to_unicode() {
  static const std::array<std::string, 256> table = [] {
    std::array<std::string, 256> map;
    char32_t next_free = 256;
    for (int byte = 0; byte < 256; ++byte) {
      const bool printable = (byte >= '!' && byte <= '~') || (byte >= 0xA1 && byte <= 0xAC) || (byte >= 0xAE && byte <= 0xFF);
      append_utf8(map[static_cast<size_t>(byte)], printable ? static_cast<char32_t>(byte) : next_free++);
    }
    return map;
  }();
  return table;
}

std::optional<uint8_t> unicode_to_byte(char32_t c) {
  static const std::unordered_map<char32_t, uint8_t> table = [] {
    std::unordered_map<char32_t, uint8_t> map;
    for (int byte = 0; byte < 256; ++byte) {
      size_t position = 0;
      map[next_code_point(byte_to_unicode()[static_cast<size_t>(byte)], position)] = static_cast<uint8_t>(byte);
    }
    return map;
  }();
  const auto found = table.find(c);
  if (found == table.end()) return std::nullopt;
  return found->second;
}

namespace {

enum class Behavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };

Behavior parse_behavior(const Json& spec, const std::string& where) {
  const std::string name = required(spec, "behavior", where).get<std::string>();
  if (name == "Removed") return Behavior::Removed;
  if (name == "Isolated") return Behavior::Isolated;
  if (name == "MergedWithPrevious") return Behavior::MergedWithPrevious;
  if (name == "MergedWithNext") return Behavior::MergedWithNext;
  if (name == "Contiguous") return Behavior::Contiguous;
  throw Error(cat(where, ".behavior: unknown split behavior '", name, "'"));
}

struct Segment {
  size_t start;
  size_t end;
  bool is_match;
};

// The whole piece as alternating segments: matches of the pattern and the text between them.
std::vector<Segment> segments_of(std::string_view piece, const std::vector<std::pair<size_t, size_t>>& matches) {
  std::vector<Segment> segments;
  size_t previous = 0;
  for (const auto& [start, end] : matches) {
    if (previous != start) segments.push_back({previous, start, false});
    segments.push_back({start, end, true});
    previous = end;
  }
  if (previous != piece.size()) segments.push_back({previous, piece.size(), false});
  return segments;
}

// The tokenizers library's SplitDelimiterBehavior, applied to the segments of one piece.
std::vector<std::pair<size_t, size_t>> apply_behavior(std::vector<Segment> segments, Behavior behavior, bool invert) {
  if (invert) {
    for (Segment& segment : segments) segment.is_match = !segment.is_match;
  }
  std::vector<std::pair<size_t, size_t>> ranges;
  bool previous_match = false;
  switch (behavior) {
    case Behavior::Isolated:
      for (const Segment& segment : segments) ranges.emplace_back(segment.start, segment.end);
      break;
    case Behavior::Removed:
      for (const Segment& segment : segments) {
        if (!segment.is_match) ranges.emplace_back(segment.start, segment.end);
      }
      break;
    case Behavior::MergedWithPrevious:
      for (const Segment& segment : segments) {
        if (segment.is_match && !previous_match && !ranges.empty()) {
          ranges.back().second = segment.end;
        } else {
          ranges.emplace_back(segment.start, segment.end);
        }
        previous_match = segment.is_match;
      }
      break;
    case Behavior::MergedWithNext:
      for (auto it = segments.rbegin(); it != segments.rend(); ++it) {
        if (it->is_match && !previous_match && !ranges.empty()) {
          ranges.back().first = it->start;
        } else {
          ranges.emplace_back(it->start, it->end);
        }
        previous_match = it->is_match;
      }
      std::reverse(ranges.begin(), ranges.end());
      break;
    case Behavior::Contiguous:
      for (size_t i = 0; i < segments.size(); ++i) {
        if (i > 0 && segments[i].is_match == previous_match && !ranges.empty()) {
          ranges.back().second = segments[i].end;
        } else {
          ranges.emplace_back(segments[i].start, segments[i].end);
        }
        previous_match = segments[i].is_match;
      }
      break;
  }
  return ranges;
}

// Replaces each piece by its sub-ranges, dropping empty ones.
template <class RangesOf>
void split_pieces(std::vector<std::string>& pieces, RangesOf&& ranges_of) {
  std::vector<std::string> result;
  result.reserve(pieces.size());
  for (const std::string& piece : pieces) {
    for (const auto& [start, end] : ranges_of(piece)) {
      if (end > start) result.emplace_back(piece.substr(start, end - start));
    }
  }
  pieces = std::move(result);
}

std::vector<std::pair<size_t, size_t>> literal_matches(std::string_view text, const std::string& literal) {
  std::vector<std::pair<size_t, size_t>> matches;
  if (literal.empty()) return matches;
  for (size_t at = text.find(literal); at != std::string_view::npos; at = text.find(literal, at + literal.size())) {
    matches.emplace_back(at, at + literal.size());
  }
  return matches;
}

class Split final : public PreTokenizer {
 public:
  Split(const Json& spec, const std::string& where)
      : behavior_(parse_behavior(spec, where)), invert_(spec.value("invert", false)) {
    const Json& pattern = required(spec, "pattern", where);
    if (pattern.contains("Regex")) {
      regex_ = std::make_unique<Regex>(pattern["Regex"].get<std::string>(), where + ".pattern");
    } else if (pattern.contains("String")) {
      literal_ = pattern["String"].get<std::string>();
    } else {
      throw Error(cat(where, ".pattern: expected {\"Regex\": ...} or {\"String\": ...}"));
    }
  }
  void split(std::vector<std::string>& pieces) const override {
    split_pieces(pieces, [&](const std::string& piece) {
      const auto matches = regex_ ? regex_->find_all(piece) : literal_matches(piece, literal_);
      return apply_behavior(segments_of(piece, matches), behavior_, invert_);
    });
  }

 private:
  Behavior behavior_;
  bool invert_;
  std::unique_ptr<Regex> regex_;
  std::string literal_;
};

// GPT-2's pattern, used by ByteLevel when use_regex is set.
constexpr const char* kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

class ByteLevel final : public PreTokenizer {
 public:
  ByteLevel(const Json& spec, const std::string& where)
      : add_prefix_space_(spec.value("add_prefix_space", true)), use_regex_(spec.value("use_regex", true)) {
    if (use_regex_) regex_ = std::make_unique<Regex>(kGpt2Pattern, where);
  }
  void split(std::vector<std::string>& pieces) const override {
    if (add_prefix_space_) {
      for (std::string& piece : pieces) {
        if (!piece.starts_with(' ')) piece.insert(0, " ");
      }
    }
    if (use_regex_) {
      split_pieces(pieces, [&](const std::string& piece) {
        return apply_behavior(segments_of(piece, regex_->find_all(piece)), Behavior::Isolated, false);
      });
    }
    const auto& table = byte_to_unicode();
    for (std::string& piece : pieces) {
      std::string mapped;
      mapped.reserve(piece.size() * 2);
      for (unsigned char byte : piece) mapped += table[byte];
      piece = std::move(mapped);
    }
  }

 private:
  bool add_prefix_space_;
  bool use_regex_;
  std::unique_ptr<Regex> regex_;
};

// Isolated or removed matches of a fixed pattern (Whitespace, WhitespaceSplit, Digits, Punctuation).
class PatternSplit final : public PreTokenizer {
 public:
  PatternSplit(const std::string& pattern, Behavior behavior, bool invert, const std::string& where)
      : regex_(pattern, where), behavior_(behavior), invert_(invert) {}
  void split(std::vector<std::string>& pieces) const override {
    split_pieces(pieces, [&](const std::string& piece) {
      return apply_behavior(segments_of(piece, regex_.find_all(piece)), behavior_, invert_);
    });
  }

 private:
  Regex regex_;
  Behavior behavior_;
  bool invert_;
};

class Metaspace final : public PreTokenizer {
 public:
  Metaspace(const Json& spec, const std::string& where)
      : replacement_(string_or(spec, "replacement", "\xE2\x96\x81")), split_(spec.value("split", true)) {
    std::string scheme = string_or(spec, "prepend_scheme", "");
    if (scheme.empty()) scheme = spec.value("add_prefix_space", true) ? "always" : "never";
    if (scheme == "first") {
      // Only the start of the whole text gets the prefix; pieces after an added token do not.
      throw Error(cat(where, ".prepend_scheme: 'first' is not supported yet (use 'always' or 'never')"));
    }
    if (scheme != "always" && scheme != "never") throw Error(cat(where, ".prepend_scheme: unknown '", scheme, "'"));
    prepend_ = scheme == "always";
  }
  void split(std::vector<std::string>& pieces) const override {
    for (std::string& piece : pieces) {
      std::string replaced;
      for (char c : piece) {
        if (c == ' ') {
          replaced += replacement_;
        } else {
          replaced += c;
        }
      }
      if (prepend_ && !replaced.starts_with(replacement_)) replaced.insert(0, replacement_);
      piece = std::move(replaced);
    }
    if (split_) {
      split_pieces(pieces, [&](const std::string& piece) {
        return apply_behavior(segments_of(piece, literal_matches(piece, replacement_)), Behavior::MergedWithNext, false);
      });
    }
  }

 private:
  std::string replacement_;
  bool split_;
  bool prepend_ = true;
};

class Sequence final : public PreTokenizer {
 public:
  explicit Sequence(std::vector<std::unique_ptr<PreTokenizer>> steps) : steps_(std::move(steps)) {}
  void split(std::vector<std::string>& pieces) const override {
    for (const auto& step : steps_) step->split(pieces);
  }

 private:
  std::vector<std::unique_ptr<PreTokenizer>> steps_;
};

}  // namespace

std::unique_ptr<PreTokenizer> make_pre_tokenizer(const Json& spec, const std::string& where) {
  if (spec.is_null()) return nullptr;
  const std::string type = required(spec, "type", where).get<std::string>();
  if (type == "Split") return std::make_unique<Split>(spec, where);
  if (type == "ByteLevel") return std::make_unique<ByteLevel>(spec, where);
  if (type == "Metaspace") return std::make_unique<Metaspace>(spec, where);
  if (type == "Whitespace") return std::make_unique<PatternSplit>(R"(\w+|[^\w\s]+)", Behavior::Removed, true, where);
  if (type == "WhitespaceSplit") return std::make_unique<PatternSplit>(R"(\s+)", Behavior::Removed, false, where);
  if (type == "Digits") {
    const bool individual = spec.value("individual_digits", false);
    return std::make_unique<PatternSplit>(R"(\p{N})", individual ? Behavior::Isolated : Behavior::Contiguous, false,
                                          where);
  }
  if (type == "Punctuation") {
    const Behavior behavior = spec.contains("behavior") ? parse_behavior(spec, where) : Behavior::Isolated;
    return std::make_unique<PatternSplit>(R"([\p{P}!-/:-@\[-`{-~])", behavior, false, where);
  }
  if (type == "Sequence") return std::make_unique<Sequence>(make_steps(spec, "pretokenizers", where, make_pre_tokenizer));
  throw Error(cat(where, ".type: pre-tokenizer '", type,
                  "' is not supported (supported: Split, ByteLevel, Metaspace, Whitespace, WhitespaceSplit, "
                  "Digits, Punctuation, Sequence)"));
}

}  // namespace grlm::text
