// Trie-constrained decoding: a logits processor that lets every row spell only token sequences
// from a fixed set (the Term IDs of real items), then end. Works for any tokenizer: the set is
// given as token ids (BPE or word-level), tokenized as the model will generate them.
#pragma once

#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "grlm/model/generation.hpp"

namespace grlm {

class TokenTrie {
 public:
  explicit TokenTrie(const std::vector<std::vector<int64_t>>& sequences);
  // Tokens allowed after `prefix`: the children of its node, plus `end_tokens` when `prefix` is a
  // whole sequence. Empty when `prefix` left the trie.
  std::vector<int64_t> allowed_after(const std::vector<int64_t>& prefix, const std::vector<int64_t>& end_tokens) const;
  size_t sequences() const { return sequences_; }

 private:
  struct Node {
    std::unordered_map<int64_t, int32_t> children;
    bool terminal = false;
  };
  std::vector<Node> nodes_;
  size_t sequences_ = 0;
};

// The processor for GenerationOptions::logits_processor: rows whose generated tokens (an end
// token included) already complete a sequence may only repeat an end token; others may only
// continue inside the trie. `end_tokens` must not be empty.
LogitsProcessor trie_processor(std::shared_ptr<const TokenTrie> trie, std::vector<int64_t> end_tokens);

}  // namespace grlm
