#include <algorithm>
#include <atomic>
#include <queue>

#include "components.hpp"
#include "grlm/core/error.hpp"
#include "unicode.hpp"

namespace grlm::text {
namespace {

using Vocab = std::unordered_map<std::string, TokenId>;

struct VocabHash {
  using is_transparent = void;
  size_t operator()(std::string_view text) const { return std::hash<std::string_view>{}(text); }
};
using VocabMap = std::unordered_map<std::string, TokenId, VocabHash, std::equal_to<>>;

// Token strings by id, for decoding.
std::vector<std::string> reverse_vocab(const VocabMap& vocab, const std::string& where) {
  TokenId largest = -1;
  for (const auto& [token, id] : vocab) largest = std::max(largest, id);
  std::vector<std::string> by_id(static_cast<size_t>(largest + 1));
  std::vector<uint8_t> seen(by_id.size(), 0);
  for (const auto& [token, id] : vocab) {
    if (id < 0) throw Error(cat(where, ".vocab: token '", token, "' has a negative id"));
    if (seen[static_cast<size_t>(id)]) throw Error(cat(where, ".vocab: id ", id, " is given to two tokens"));
    seen[static_cast<size_t>(id)] = 1;
    by_id[static_cast<size_t>(id)] = token;
  }
  return by_id;
}

VocabMap read_vocab(const Json& spec, const std::string& where) {
  const Json& vocab = required(spec, "vocab", where);
  if (!vocab.is_object()) throw Error(cat(where, ".vocab: expected an object of token -> id"));
  VocabMap map;
  map.reserve(vocab.size());
  for (const auto& [token, id] : vocab.items()) {
    if (!id.is_number_integer()) throw Error(cat(where, ".vocab: id of '", token, "' is not an integer"));
    map.emplace(token, id.get<TokenId>());
  }
  return map;
}

// Both models keep a token -> id map and its inverse; lookups are the same for both.
class VocabularyModel : public Model {
 public:
  VocabularyModel(const Json& spec, const std::string& where)
      : vocab_(read_vocab(spec, where)), by_id_(reverse_vocab(vocab_, where)) {}
  std::optional<TokenId> token_to_id(std::string_view token) const override {
    const auto found = vocab_.find(token);
    if (found == vocab_.end()) return std::nullopt;
    return found->second;
  }
  const std::string* id_to_token(TokenId id) const override {
    if (id < 0 || static_cast<size_t>(id) >= by_id_.size()) return nullptr;
    return &by_id_[static_cast<size_t>(id)];
  }
  size_t vocab_size() const override { return by_id_.size(); }

 protected:
  VocabMap vocab_;
  std::vector<std::string> by_id_;
};

class WordLevel final : public VocabularyModel {
 public:
  WordLevel(const Json& spec, const std::string& where) : VocabularyModel(spec, where) {
    const std::string unk = string_or(spec, "unk_token", "<unk>");
    const auto found = vocab_.find(unk);
    if (found != vocab_.end()) unk_id_ = found->second;
  }
  std::string_view type() const override { return "WordLevel"; }
  void tokenize(std::string_view piece, std::vector<TokenId>& out) const override {
    const auto found = vocab_.find(piece);
    if (found != vocab_.end()) {
      out.push_back(found->second);
    } else if (unk_id_) {
      out.push_back(*unk_id_);
    } else {
      throw Error(cat("WordLevel: '", piece, "' is not in the vocabulary and there is no unk_token"));
    }
  }

 private:
  std::optional<TokenId> unk_id_;
};

struct Merge {
  uint32_t rank;
  TokenId merged;
};

uint64_t pair_key(TokenId left, TokenId right) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
}

class Bpe final : public VocabularyModel {
 public:
  Bpe(const Json& spec, const std::string& where)
      : VocabularyModel(spec, where),
        continuing_subword_prefix_(string_or(spec, "continuing_subword_prefix", "")),
        end_of_word_suffix_(string_or(spec, "end_of_word_suffix", "")),
        fuse_unk_(spec.value("fuse_unk", false)),
        byte_fallback_(spec.value("byte_fallback", false)),
        ignore_merges_(spec.value("ignore_merges", false)) {
    if (spec.contains("dropout") && !spec["dropout"].is_null()) {
      throw Error(cat(where, ".dropout: BPE dropout is a training-time option and is not supported"));
    }
    if (spec.contains("unk_token") && spec["unk_token"].is_string()) {
      const auto found = vocab_.find(spec["unk_token"].get<std::string>());
      if (found == vocab_.end()) throw Error(cat(where, ".unk_token: '", spec["unk_token"].get<std::string>(), "' is not in the vocabulary"));
      unk_id_ = found->second;
    }
    read_merges(required(spec, "merges", where), where + ".merges");
  }

  std::string_view type() const override { return "BPE"; }

  void tokenize(std::string_view piece, std::vector<TokenId>& out) const override {
    if (piece.empty()) return;
    if (ignore_merges_) {
      if (const auto found = vocab_.find(piece); found != vocab_.end()) {
        out.push_back(found->second);
        return;
      }
    }
    WordCache& cache = thread_cache();
    if (const auto cached = cache.words.find(piece); cached != cache.words.end()) {
      out.insert(out.end(), cached->second.begin(), cached->second.end());
      return;
    }
    std::vector<TokenId> ids = merge_word(piece);
    out.insert(out.end(), ids.begin(), ids.end());
    if (piece.size() < 256) {
      if (cache.words.size() >= kCacheCapacity) cache.words.clear();
      cache.words.emplace(std::string(piece), std::move(ids));
    }
  }

 private:
  static constexpr size_t kCacheCapacity = 100000;

  // Merged words, one cache per thread so batch encoding never takes a lock. A thread serves one
  // tokenizer at a time: the cache belongs to the instance whose serial number it holds (a
  // number, not an address, so a new tokenizer never inherits a dead one's entries).
  struct WordCache {
    uint64_t owner = 0;
    std::unordered_map<std::string, std::vector<TokenId>, VocabHash, std::equal_to<>> words;
  };
  WordCache& thread_cache() const {
    thread_local WordCache cache;
    if (cache.owner != serial_) {
      cache.words.clear();
      cache.owner = serial_;
    }
    return cache;
  }

  void read_merges(const Json& merges, const std::string& where) {
    if (!merges.is_array()) throw Error(cat(where, ": expected a list"));
    merges_.reserve(merges.size());
    for (size_t rank = 0; rank < merges.size(); ++rank) {
      const Json& merge = merges[rank];
      std::string left;
      std::string right;
      if (merge.is_string()) {  // "a b" (older files)
        const std::string text = merge.get<std::string>();
        const size_t space = text.find(' ', 1);
        if (space == std::string::npos) throw Error(cat(where, "[", rank, "]: expected 'left right', got '", text, "'"));
        left = text.substr(0, space);
        right = text.substr(space + 1);
      } else if (merge.is_array() && merge.size() == 2 && merge[0].is_string() && merge[1].is_string()) {
        left = merge[0].get<std::string>();
        right = merge[1].get<std::string>();
      } else {
        throw Error(cat(where, "[", rank, "]: expected \"left right\" or [left, right]"));
      }
      const auto left_id = vocab_.find(left);
      const auto right_id = vocab_.find(right);
      const auto merged_id = vocab_.find(left + right);
      if (left_id == vocab_.end() || right_id == vocab_.end() || merged_id == vocab_.end()) {
        throw Error(cat(where, "[", rank, "]: '", left, "' + '", right, "' uses a token that is not in the vocabulary"));
      }
      // The first occurrence of a pair keeps its rank, as in the reference implementation.
      merges_.emplace(pair_key(left_id->second, right_id->second), Merge{static_cast<uint32_t>(rank), merged_id->second});
    }
  }

  // Initial symbols of a word: its characters (with the subword prefix / word suffix), unknown
  // ones as byte-fallback tokens, the unk token, or nothing.
  std::vector<TokenId> initial_symbols(std::string_view word) const {
    std::vector<TokenId> symbols;
    size_t position = 0;
    bool previous_unknown = false;
    while (position < word.size()) {
      const size_t start = position;
      next_code_point(word, position);
      std::string symbol(word.substr(start, position - start));
      if (start > 0) symbol.insert(0, continuing_subword_prefix_);
      if (position == word.size()) symbol += end_of_word_suffix_;
      if (const auto found = vocab_.find(symbol); found != vocab_.end()) {
        symbols.push_back(found->second);
        previous_unknown = false;
        continue;
      }
      if (byte_fallback_) {
        std::vector<TokenId> bytes;
        for (size_t k = start; k < position; ++k) {
          char name[8];
          std::snprintf(name, sizeof name, "<0x%02X>", static_cast<unsigned char>(word[k]));
          const auto byte_token = vocab_.find(std::string_view(name));
          if (byte_token == vocab_.end()) break;
          bytes.push_back(byte_token->second);
        }
        if (bytes.size() == position - start) {
          symbols.insert(symbols.end(), bytes.begin(), bytes.end());
          previous_unknown = false;
          continue;
        }
      }
      if (unk_id_) {
        if (!(fuse_unk_ && previous_unknown)) symbols.push_back(*unk_id_);
        previous_unknown = true;
      }
    }
    return symbols;
  }

  // Applies merges lowest rank first (leftmost among equal ranks) until none applies: a heap of
  // candidate pairs over a linked list of symbols, O(n log n) even for 10k-character words.
  std::vector<TokenId> merge_word(std::string_view word) const {
    std::vector<TokenId> symbols = initial_symbols(word);
    const size_t count = symbols.size();
    if (count < 2) return symbols;
    std::vector<int64_t> previous(count);
    std::vector<int64_t> next(count);
    std::vector<uint8_t> alive(count, 1);
    for (size_t i = 0; i < count; ++i) {
      previous[i] = static_cast<int64_t>(i) - 1;
      next[i] = i + 1 < count ? static_cast<int64_t>(i + 1) : -1;
    }
    struct Candidate {
      uint32_t rank;
      int64_t left;      // index of the left symbol
      TokenId left_id;   // ids when queued: stale if either side changed since
      TokenId right_id;
      bool operator>(const Candidate& other) const {
        return rank != other.rank ? rank > other.rank : left > other.left;
      }
    };
    std::priority_queue<Candidate, std::vector<Candidate>, std::greater<Candidate>> heap;
    auto push_pair = [&](int64_t left) {
      if (left < 0 || next[static_cast<size_t>(left)] < 0) return;
      const TokenId a = symbols[static_cast<size_t>(left)];
      const TokenId b = symbols[static_cast<size_t>(next[static_cast<size_t>(left)])];
      const auto found = merges_.find(pair_key(a, b));
      if (found != merges_.end()) heap.push({found->second.rank, left, a, b});
    };
    for (size_t i = 0; i + 1 < count; ++i) push_pair(static_cast<int64_t>(i));
    while (!heap.empty()) {
      const Candidate top = heap.top();
      heap.pop();
      const auto left = static_cast<size_t>(top.left);
      if (!alive[left] || next[left] < 0) continue;
      const auto right = static_cast<size_t>(next[left]);
      if (symbols[left] != top.left_id || symbols[right] != top.right_id) continue;
      symbols[left] = merges_.at(pair_key(top.left_id, top.right_id)).merged;
      alive[right] = 0;
      next[left] = next[right];
      if (next[right] >= 0) previous[static_cast<size_t>(next[right])] = static_cast<int64_t>(left);
      push_pair(previous[left]);
      push_pair(static_cast<int64_t>(left));
    }
    std::vector<TokenId> merged;
    for (int64_t i = 0; i >= 0; i = next[static_cast<size_t>(i)]) merged.push_back(symbols[static_cast<size_t>(i)]);
    return merged;
  }

  std::unordered_map<uint64_t, Merge> merges_;
  std::string continuing_subword_prefix_;
  std::string end_of_word_suffix_;
  bool fuse_unk_;
  bool byte_fallback_;
  bool ignore_merges_;
  std::optional<TokenId> unk_id_;
  uint64_t serial_ = next_serial();

  static uint64_t next_serial() {
    static std::atomic<uint64_t> counter{0};
    return ++counter;
  }
};

}  // namespace

std::unique_ptr<Model> make_model(const Json& spec, const std::string& where) {
  const std::string type = string_or(spec, "type", "BPE");
  if (type == "BPE") return std::make_unique<Bpe>(spec, where);
  if (type == "WordLevel") return std::make_unique<WordLevel>(spec, where);
  throw Error(cat(where, ".type: model '", type, "' is not supported (supported: BPE, WordLevel)"));
}

}  // namespace grlm::text
