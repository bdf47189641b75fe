// A Hugging Face tokenizer.json, read and run in C++: normalizer -> pre-tokenizer -> model
// (BPE or WordLevel) -> post-processor, and the decoder back. Token ids equal those of the
// `tokenizers` library for the components it implements; others are refused by name.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace grlm {

using TokenId = int32_t;

struct AddedToken {
  TokenId id = -1;
  std::string content;
  bool special = false;      // skipped by decode(skip_special_tokens=true)
  bool lstrip = false;       // the match absorbs whitespace on its left
  bool rstrip = false;       // ... and on its right
  bool single_word = false;  // matches only as a whole word
  bool normalized = false;   // matched in the normalized text instead of the raw text
};

class Tokenizer {
 public:
  // `path` is a tokenizer.json or a folder holding one. Errors name the file and the field.
  static Tokenizer load(const std::filesystem::path& path);
  static Tokenizer from_json(const std::string& json_text, const std::string& source_name);
  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  // Token ids of `text`; `add_special_tokens` applies the post-processor's template (BOS/EOS).
  // Invalid UTF-8 bytes are replaced by U+FFFD first, as Python's str would hold them.
  std::vector<TokenId> encode(std::string_view text, bool add_special_tokens = false) const;
  // Encodes every text on `threads` threads (0: all hardware threads); results in input order.
  std::vector<std::vector<TokenId>> encode_batch(const std::vector<std::string>& texts, bool add_special_tokens = false,
                                                 unsigned threads = 0) const;
  std::string decode(const std::vector<TokenId>& ids, bool skip_special_tokens = false) const;

  std::optional<TokenId> token_to_id(std::string_view token) const;
  std::optional<std::string> id_to_token(TokenId id) const;
  size_t vocab_size() const;  // model vocabulary plus added tokens (highest id + 1)
  const std::vector<AddedToken>& added_tokens() const;
  std::string_view model_type() const;  // "BPE" | "WordLevel"

  struct Impl;

 private:
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Replaces invalid UTF-8 sequences by U+FFFD, one per maximal invalid subpart (as Python and
// Rust's from_utf8_lossy do).
std::string to_valid_utf8(std::string_view text);

}  // namespace grlm
