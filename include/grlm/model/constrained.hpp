// Trie-constrained decoding: a logits processor that lets every row spell only token sequences
// from a fixed set (the Term IDs of real items), then end. Works for any tokenizer: the set is
// given as token ids (BPE or word-level), tokenized as the model will generate them.
#pragma once

#include <cstdint>
#include <memory>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "grlm/model/generation.hpp"

namespace grlm {

class TokenTrie {
 public:
  explicit TokenTrie(const std::vector<std::vector<int64_t>>& sequences);

  // Some of the sequences, closed to one prompt (e.g. the Term IDs of the items a user already
  // has): a node stays open while a sequence below it is not excluded.
  struct Exclusion {
    std::unordered_set<int32_t> terminals;                           // excluded whole sequences
    std::unordered_map<int32_t, std::vector<int64_t>> closed_tokens;  // node -> children with nothing open below
  };
  // `sequence_indices` index the constructor's `sequences`; empty sequences are ignored, and a
  // sequence given more than once closes only when every index that spells it is excluded.
  Exclusion exclude(const std::vector<size_t>& sequence_indices) const;

  // Tokens allowed after `prefix`: the children of its node with a sequence below them, plus
  // `end_tokens` when `prefix` is a whole sequence; both without what `exclusion` closes. Empty
  // when `prefix` left the trie.
  std::vector<int64_t> allowed_after(const std::vector<int64_t>& prefix, const std::vector<int64_t>& end_tokens,
                                     const Exclusion* exclusion = nullptr) const;
  size_t sequences() const { return sequences_; }

 private:
  struct Node {
    std::unordered_map<int64_t, int32_t> children;
    int32_t parent = -1;
    int64_t token = -1;           // the token from the parent to this node
    int32_t sequences_below = 0;  // distinct sequences ending at this node or under it
    bool terminal = false;
  };
  std::vector<Node> nodes_;
  std::vector<int32_t> terminal_of_;                // per constructor sequence, its end node (-1: empty)
  std::unordered_map<int32_t, int32_t> indices_at_;  // end node -> constructor sequences ending there
  size_t sequences_ = 0;
};

// The processor for GenerationOptions::logits_processor: rows whose generated tokens (an end
// token included) already complete a sequence may only repeat an end token; others may only
// continue inside the trie. `end_tokens` must not be empty. With `exclusions` (one per prompt,
// null: none), row r belongs to prompt r / rows_per_prompt (num_beams in beam search) and may
// not spell that prompt's excluded sequences.
LogitsProcessor trie_processor(std::shared_ptr<const TokenTrie> trie, std::vector<int64_t> end_tokens,
                               std::vector<std::shared_ptr<const TokenTrie::Exclusion>> exclusions = {},
                               int64_t rows_per_prompt = 1);

}  // namespace grlm
