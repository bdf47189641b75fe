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
#include <unordered_map>
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

enum class Side { Left, Right };

// Keeps at most `max_length` ids, dropping from the given side (0: no limit).
void truncate(std::vector<TokenId>& ids, size_t max_length, Side side);

// Sequences padded with `pad_id` to a common length (rounded up to a multiple of
// `pad_to_multiple_of`), row-major, with 1 in the attention mask for real tokens.
struct PaddedBatch {
  size_t rows = 0;
  size_t columns = 0;
  std::vector<TokenId> ids;
  std::vector<uint8_t> attention_mask;
};
PaddedBatch pad_batch(const std::vector<std::vector<TokenId>>& sequences, TokenId pad_id, Side side,
                      size_t pad_to_multiple_of = 1);

// The special tokens named by a tokenizer_config.json (strings, or {"content": ...} objects).
struct TokenizerConfig {
  std::optional<std::string> bos_token;
  std::optional<std::string> eos_token;
  std::optional<std::string> pad_token;
  std::optional<std::string> unk_token;
  bool has_chat_template = false;
};
// `path` is a tokenizer_config.json or a folder holding one; a missing file gives an empty config.
TokenizerConfig load_tokenizer_config(const std::filesystem::path& path);

// A word-level vocabulary for models trained from scratch: special tokens first, then the
// required words (TID terms, format words), then corpus words by frequency.
struct WordLevelSpec {
  std::vector<std::string> special_tokens = {"<unk>", "<pad>", "<|endoftext|>", "<|im_start|>", "<|im_end|>"};
  // Always in the vocabulary, lowercased, one token each: a word the split below would cut (it
  // holds whitespace or one of [ ] , : beside other characters) becomes an added token.
  std::vector<std::string> required_words;
  // Fixed format phrases of several words ("Item text ID:"), one token each: added tokens matched
  // in the normalized text before it is split into words. Lowercased; after the special tokens.
  std::vector<std::string> phrases;
  size_t min_count = 2;                     // occurrences a corpus word needs
  size_t max_vocab_size = 0;                // 0: no limit; specials and required words always stay
};
// Text is NFC-normalized and lowercased, then split into words (letters and digits, joined by
// '-' or '\'') and single other characters; whitespace separates and is dropped; unknown words
// become the first special token. Returns a tokenizer.json that `tokenizers` loads and encodes
// identically.
std::string build_word_level_tokenizer(const std::vector<std::string_view>& corpus, const WordLevelSpec& spec);

// The same in two steps, for a corpus spread over ranks: each rank counts its texts' words,
// the counts are merged (`add`; sums do not depend on the order), then the vocabulary is built.
using WordCounts = std::unordered_map<std::string, uint64_t>;
void count_words(const std::vector<std::string_view>& texts, WordCounts& counts);
std::string build_word_level_tokenizer_from_counts(const WordCounts& counts, const WordLevelSpec& spec);
// Length-prefixed bytes of the counts, to send between ranks, and their sum back into `counts`.
std::string serialize_word_counts(const WordCounts& counts);
void add_serialized_word_counts(std::string_view bytes, WordCounts& counts);

// Replaces invalid UTF-8 sequences by U+FFFD, one per maximal invalid subpart (as Python and
// Rust's from_utf8_lossy do).
std::string to_valid_utf8(std::string_view text);

}  // namespace grlm
