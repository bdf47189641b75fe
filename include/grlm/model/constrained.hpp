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

  // Nodes: 0 is the root (the empty prefix); -1 is "left the trie".
  int32_t node_after(const std::vector<int64_t>& prefix) const;
  int32_t child(int32_t node, int64_t token) const;
  // allowed_after for the node of a prefix.
  std::vector<int64_t> allowed_at(int32_t node, const std::vector<int64_t>& end_tokens, const Exclusion* exclusion = nullptr) const;

  // A mass over the sequences, summed per node: `below` = the sequences ending at or under it,
  // `ending` = those ending exactly at it (TriePrior's P(prefix) and P(sequence)).
  struct Masses {
    std::vector<double> below;
    std::vector<double> ending;
  };
  // From one non-negative weight per constructor sequence (a sequence given twice adds both),
  // normalised to sum 1 over the trie; throws when they sum to 0.
  Masses distribution(const std::vector<double>& weights) const;
  // Sparse, unnormalised: the nodes on the paths of the (constructor sequence, weight) pairs.
  struct SparseMasses {
    std::unordered_map<int32_t, double> below;
    std::unordered_map<int32_t, double> ending;
    double total = 0.0;
  };
  SparseMasses sparse_masses(const std::vector<std::pair<size_t, double>>& weights) const;

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

  int32_t checked_terminal(size_t sequence_index, const char* what) const;
};

// A prior over the trie's sequences fused into beam search, per prompt:
//   P(s) = (count(s) + smoothing * base(s)) / (total count + smoothing)
// with `base` a distribution shared by all prompts (e.g. popularity) and sparse per-prompt counts
// (e.g. how often each item followed the user's last item). A token that takes a row from prefix
// a to prefix b adds weight * log(P(b) / P(a)) to its score, P(prefix) = the prior's mass below
// it, so a finished sequence has gained exactly weight * log P(s), and on the way beams are
// steered by the prior's mass of their prefixes (a prefix no prior mass reaches is closed).
struct TriePrior {
  double weight = 0.0;     // 0: off
  double smoothing = 1.0;  // pseudo-counts of `base`, > 0
  std::shared_ptr<const TokenTrie::Masses> base;                          // TokenTrie::distribution
  std::vector<std::shared_ptr<const TokenTrie::SparseMasses>> counts;  // one per prompt (null: no counts)
};

// The processor for GenerationOptions::logits_processor: rows whose generated tokens (an end
// token included) already complete a sequence may only repeat an end token; others may only
// continue inside the trie. `end_tokens` must not be empty. With `exclusions` (one per prompt,
// null: none), row r belongs to prompt r / rows_per_prompt (num_beams in beam search) and may
// not spell that prompt's excluded sequences. With `prior` (one counts entry per prompt), every
// allowed token also gets the prior's log-ratio (TriePrior).
LogitsProcessor trie_processor(std::shared_ptr<const TokenTrie> trie, std::vector<int64_t> end_tokens,
                               std::vector<std::shared_ptr<const TokenTrie::Exclusion>> exclusions = {},
                               int64_t rows_per_prompt = 1, std::shared_ptr<const TriePrior> prior = nullptr);

}  // namespace grlm
