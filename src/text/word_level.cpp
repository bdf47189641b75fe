// Word-level tokenizers for models trained from scratch (GRLM's small models on TIDs).
#include <algorithm>
#include <cstring>
#include <map>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "grlm/core/error.hpp"
#include "grlm/text/tokenizer.hpp"
#include "regex.hpp"
#include "unicode.hpp"

namespace grlm {
namespace {

// Words: runs of anything but whitespace and the TID delimiters [ ] , : which stand alone. TID
// terms keep their inner punctuation whole ("hair-mask", "4.2-ounce", "100%", "l'oreal").
constexpr const char* kWordPattern = R"([^\s\[\],:]+|[\[\],:])";

std::string normalized(const std::string& text) {
  return text::to_lowercase(text::normalize(to_valid_utf8(text), text::NormalForm::NFC));
}

}  // namespace

void count_words(const std::vector<std::string_view>& texts, WordCounts& counts) {
  const text::Regex words(kWordPattern, "word-level tokenizer");
  for (std::string_view text : texts) {
    const std::string lower = normalized(std::string(text));
    for (const auto& [start, end] : words.find_all(lower)) ++counts[lower.substr(start, end - start)];
  }
}

std::string serialize_word_counts(const WordCounts& counts) {
  std::string bytes;
  for (const auto& [word, count] : counts) {
    const auto length = static_cast<uint32_t>(word.size());
    bytes.append(reinterpret_cast<const char*>(&length), sizeof(length));
    bytes += word;
    bytes.append(reinterpret_cast<const char*>(&count), sizeof(count));
  }
  return bytes;
}

void add_serialized_word_counts(std::string_view bytes, WordCounts& counts) {
  size_t at = 0;
  while (at < bytes.size()) {
    uint32_t length = 0;
    uint64_t count = 0;
    if (bytes.size() - at < sizeof(length)) throw Error("word counts: truncated record");
    std::memcpy(&length, bytes.data() + at, sizeof(length));
    at += sizeof(length);
    if (bytes.size() - at < length + sizeof(count)) throw Error("word counts: truncated record");
    const std::string word(bytes.substr(at, length));
    at += length;
    std::memcpy(&count, bytes.data() + at, sizeof(count));
    at += sizeof(count);
    counts[word] += count;
  }
}

std::string build_word_level_tokenizer(const std::vector<std::string_view>& corpus, const WordLevelSpec& spec) {
  WordCounts counts;
  count_words(corpus, counts);
  return build_word_level_tokenizer_from_counts(counts, spec);
}

std::string build_word_level_tokenizer_from_counts(const WordCounts& counts, const WordLevelSpec& spec) {
  if (spec.special_tokens.empty()) throw UsageError("word-level tokenizer: the first special token is the unknown-word token; give at least one");
  const text::Regex words(kWordPattern, "word-level tokenizer");
  nlohmann::ordered_json vocab = nlohmann::ordered_json::object();
  std::unordered_set<std::string> taken;
  auto add = [&](const std::string& token) {  // false when the token was already in
    if (!taken.insert(token).second) return false;
    vocab[token] = static_cast<TokenId>(vocab.size());
    return true;
  };
  for (const std::string& token : spec.special_tokens) add(token);
  std::vector<std::string> phrases;
  for (const std::string& phrase : spec.phrases) {
    const std::string lower = normalized(phrase);
    if (lower.find_first_not_of(" \t\n") == std::string::npos) throw UsageError("word-level tokenizer: a format phrase is empty");
    if (add(lower)) phrases.push_back(lower);
  }
  // A required word the split would cut ("1:53-scale", "5.3:1", "hair mask") is kept whole as an
  // added token, matched before the split; single_word, so it never matches inside a longer word.
  std::vector<std::string> whole_words;
  for (const std::string& word : spec.required_words) {
    const std::string lower = normalized(word);
    if (lower.empty()) throw UsageError("word-level tokenizer: a required word is empty");
    const auto pieces = words.find_all(lower);
    const bool one_piece = pieces.size() == 1 && pieces[0].first == 0 && pieces[0].second == lower.size();
    if (add(lower) && !one_piece) whole_words.push_back(lower);
  }
  std::vector<std::pair<std::string, size_t>> frequent;
  for (const auto& [word, count] : counts) {
    if (count >= spec.min_count && !taken.count(word)) frequent.emplace_back(word, count);
  }
  std::sort(frequent.begin(), frequent.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  for (const auto& [word, count] : frequent) {
    if (spec.max_vocab_size != 0 && vocab.size() >= spec.max_vocab_size) break;
    add(word);
  }
  nlohmann::ordered_json added = nlohmann::ordered_json::array();
  for (const std::string& token : spec.special_tokens) {
    added.push_back({{"id", vocab[token]}, {"content", token}, {"single_word", false}, {"lstrip", false},
                     {"rstrip", false}, {"normalized", false}, {"special", true}});
  }
  for (const std::string& phrase : phrases) {
    added.push_back({{"id", vocab[phrase]}, {"content", phrase}, {"single_word", false}, {"lstrip", false},
                     {"rstrip", false}, {"normalized", true}, {"special", false}});
  }
  for (const std::string& word : whole_words) {
    added.push_back({{"id", vocab[word]}, {"content", word}, {"single_word", true}, {"lstrip", false},
                     {"rstrip", false}, {"normalized", true}, {"special", false}});
  }
  const nlohmann::ordered_json tokenizer = {
      {"version", "1.0"},
      {"truncation", nullptr},
      {"padding", nullptr},
      {"added_tokens", added},
      {"normalizer", {{"type", "Sequence"}, {"normalizers", {{{"type", "NFC"}}, {{"type", "Lowercase"}}}}}},
      {"pre_tokenizer", {{"type", "Split"}, {"pattern", {{"Regex", kWordPattern}}}, {"behavior", "Removed"}, {"invert", true}}},
      {"post_processor", nullptr},
      {"decoder", nullptr},
      {"model", {{"type", "WordLevel"}, {"vocab", vocab}, {"unk_token", spec.special_tokens.front()}}},
  };
  return tokenizer.dump(2);
}

}  // namespace grlm
