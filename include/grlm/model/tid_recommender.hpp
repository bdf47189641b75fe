// The fine-tuned recommender at evaluation time, declared without torch types: prompt texts in,
// beam-search continuations out (best first), optionally constrained to spell real items' Term IDs.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "grlm/core/device.hpp"

namespace grlm {

struct RecommendOptions {
  int64_t num_beams = 20;
  int64_t num_return_sequences = 20;
  int64_t max_new_tokens = 30;
  int64_t batch_size = 4;  // prompts per beam-search batch (each has num_beams rows)
  // Constrained decoding only: per prompt (empty, or one list per prompt), the Term IDs it may not
  // spell, as indices into constrain_to's `tid_texts` (e.g. those of the items a user already has).
  std::vector<std::vector<size_t>> excluded_tids;
  // Constrained decoding only: a prior over the Term IDs fused into the beam scores (TriePrior in
  // constrained.hpp: each sequence gains prior_weight * log P(TID), P = (count + smoothing * base)
  // / (total count + smoothing)); off at weight 0. `prior_base`: one weight >= 0 per constrain_to
  // TID (normalised; e.g. popularity); `prior_counts`: empty, or per prompt (TID index, count)
  // pairs (e.g. how often each item followed the user's last item).
  double prior_weight = 0.0;
  double prior_smoothing = 1.0;
  std::shared_ptr<const std::vector<double>> prior_base;
  std::vector<std::vector<std::pair<size_t, double>>> prior_counts;
};

// One generated continuation: its text (special tokens removed) and its beam score (Hugging
// Face's sequences_scores: sum of log-probabilities / length^length_penalty; with a prior, its
// weighted log-probability added to the sum).
struct Continuation {
  std::string text;
  double score = 0.0;
};

class TidRecommender {
 public:
  // A Hugging Face checkpoint folder with its tokenizer; `dtype` "auto": bfloat16 on CUDA,
  // float32 on the CPU.
  static std::unique_ptr<TidRecommender> load(const std::string& folder, const Device& device, const std::string& dtype);
  virtual ~TidRecommender() = default;

  // From now on every beam may only spell one of `tid_texts` (as the model writes them after the
  // prompt, e.g. " [a, b, c, d, e]") and then `end_text`'s first token (e.g. " Title"), which ends
  // it — so every returned sequence names a real item (trie-constrained beam search).
  virtual void constrain_to(const std::vector<std::string>& tid_texts, const std::string& end_text) = 0;
  // Per prompt, num_return_sequences continuations, best first.
  virtual std::vector<std::vector<Continuation>> recommend(const std::vector<std::string>& prompts,
                                                           const RecommendOptions& options) const = 0;
  virtual size_t prompt_tokens(const std::string& prompt) const = 0;
};

}  // namespace grlm
