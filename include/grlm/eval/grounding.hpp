// Evaluation's grounding and metrics (GRLM-SPEC.md stage 6, compat): generated text -> ranked
// items -> Recall@K and NDCG@K.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace grlm {

// Every "[...]" group of the texts, in order (texts in order), each parsed into words by the
// Term-ID rules, repeats dropped.
std::vector<std::vector<std::string>> tid_groups(const std::vector<std::string>& texts);

class Grounder {
 public:
  // TIDs by item row (empty words: the item has no valid TID). Words are compared in their
  // canonical form (canonical_tid_word), as the groups of generated text hold them.
  explicit Grounder(const std::vector<std::array<std::string, 5>>& tids);

  // A group equal to an item's TID -> every item with that TID; otherwise the best-scoring TID's
  // first item, scoring each known TID by sum_i 1/(i+1) x (1.0 if a word equals query word i,
  // 0.8 if one contains the other). Items already listed are skipped; at most `size` items.
  // When the groups give fewer, they are asked again for their next-best TIDs ("fill the same
  // way"), in group order, until `size` items or no TID is left. `excluded` items (e.g. those the
  // user already has) are never listed: a TID stands for its first item not excluded.
  std::vector<uint32_t> rank(const std::vector<std::vector<std::string>>& groups, size_t size,
                             const std::unordered_set<uint32_t>& excluded = {}) const;

  // Per ranked item, the score of the first (best) text that names its TID exactly (`texts` and
  // `text_scores` best first, as beam search returns them); NaN for an item no text names
  // exactly (found by the fuzzy score or the fill).
  std::vector<double> exact_scores(const std::vector<uint32_t>& ranked, const std::vector<std::string>& texts,
                                   const std::vector<double>& text_scores) const;

  // The distinct TIDs, in first-item order (the order constrained decoding is given them in), as
  // their first item's TID file spells them.
  const std::vector<std::array<std::string, 5>>& distinct_tids() const { return distinct_; }
  // The index into distinct_tids() of an item's TID; -1 when it has none.
  int64_t tid_index(uint32_t item) const { return item < tid_of_.size() ? tid_of_[item] : -1; }
  // Indices into distinct_tids() of the TIDs whose items are all in `items`.
  std::vector<size_t> tids_covered_by(const std::unordered_set<uint32_t>& items) const;

  // The fuzzy score of a known TID (canonical words) for a query; exposed for tests.
  static double score(const std::vector<std::string>& query, const std::array<std::string, 5>& tid);

 private:
  std::optional<uint32_t> first_item(size_t tid, const std::unordered_set<uint32_t>& excluded) const;

  std::vector<std::array<std::string, 5>> distinct_;     // known TIDs, in first-item order
  std::vector<std::array<std::string, 5>> canonical_;    // the same, canonical words
  std::vector<std::vector<uint32_t>> items_of_;          // items per distinct TID, in item order
  std::unordered_map<std::string, size_t> index_;        // "w1,w2,w3,w4,w5" -> distinct TID
  std::vector<int64_t> tid_of_;                          // per item row, its distinct TID (-1: none)
};

// The target's 0-based rank in `ranked`, or -1.
int64_t hit_rank(const std::vector<uint32_t>& ranked, uint32_t target);

// The cutoffs K of Recall@K and NDCG@K (metrics.json, the tables grlm prints).
inline const std::vector<size_t>& ranking_cutoffs() {
  static const std::vector<size_t> ks = {1, 3, 5, 10, 20};
  return ks;
}

// Recall@K and NDCG@K for K in `ks` accumulated over users (one target each).
struct RankingMetrics {
  std::vector<size_t> ks = ranking_cutoffs();
  std::vector<double> recall_sum, ndcg_sum;
  uint64_t users = 0;
  RankingMetrics();
  void add(int64_t rank);  // rank from hit_rank
  double recall(size_t k_index) const { return users ? recall_sum[k_index] / static_cast<double>(users) : 0.0; }
  double ndcg(size_t k_index) const { return users ? ndcg_sum[k_index] / static_cast<double>(users) : 0.0; }
  // By the cutoff itself (one of `ks`): recall_at(10) is Recall@10.
  double recall_at(size_t k) const { return recall(index_of(k)); }
  double ndcg_at(size_t k) const { return ndcg(index_of(k)); }

 private:
  size_t index_of(size_t k) const;
};

}  // namespace grlm
