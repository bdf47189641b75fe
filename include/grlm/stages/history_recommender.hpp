// The fine-tuned model as a recommender over item histories, one code path for `evaluate` and
// `grlm recommend`: a history (items, oldest first) -> the sequence-task prompt, beam search
// (trie-constrained to real items' Term IDs, or free text grounded by the spec's rules), the
// ranked items with their beam scores. Torch-free header; built with libtorch only.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include "grlm/core/config.hpp"
#include "grlm/core/device.hpp"
#include "grlm/data/dataset.hpp"

namespace grlm {

struct Recommendation {
  std::vector<ItemIndex> items;        // best first
  std::vector<double> scores;          // per item, its beam's score; NaN when grounded fuzzily
  std::vector<std::string> generated;  // the beams' texts, best first
};

class HistoryRecommender {
 public:
  // The model in `model_folder` (its tokenizer and chat template), decoding options from
  // evaluate.* (constrained, exclude_seen, num_beams, num_return_sequences, max_new_tokens,
  // batch_size, dtype, transition_prior, transition_smoothing), the sequence task's instruction;
  // items need a valid TID in `dataset`. The transition prior counts the dataset's histories
  // without each user's last `prior_holdout` items (the targets being evaluated: 1 on test, 2 on
  // validation; 0 when recommending from a trained run).
  HistoryRecommender(const Config& config, const Dataset& dataset, const std::filesystem::path& model_folder,
                     const Device& device, size_t prior_holdout);
  ~HistoryRecommender();
  // The decoding options' usage errors (the constructor checks them too; evaluate calls this
  // before it loads the model).
  static void check_config(const Config& config);
  HistoryRecommender(const HistoryRecommender&) = delete;
  HistoryRecommender& operator=(const HistoryRecommender&) = delete;

  // The prompt for the item after `window` (every item of it has a valid TID, at least one): the
  // first item as the instruction's input, the others as the start of the answer, then
  // "Item text ID:" — exactly the sequence samples' shape the model was trained on.
  std::string prompt(const std::vector<ItemIndex>& window) const;
  // How many of a history's last items a prompt holds: sft.window - 2, as in the training samples
  // (their window's last two items are the validation and test targets).
  size_t window_items() const { return window_items_; }

  // Per prompt, up to `list_size` items. `last_items`: per prompt, its history's last item (the
  // transition prior's anchor). `seen` (empty, or one set per prompt) are never recommended when
  // evaluate.exclude_seen is set.
  std::vector<Recommendation> recommend(const std::vector<std::string>& prompts, const std::vector<ItemIndex>& last_items,
                                        const std::vector<std::unordered_set<uint32_t>>& seen, size_t list_size) const;

  // At least `count` beams returned per prompt (at most num_beams), so that a list of `count`
  // items can come from beams alone.
  void return_at_least(int64_t count);

  bool constrained() const { return constrained_; }
  bool exclude_seen() const { return exclude_seen_; }
  bool transition_prior() const;

 private:
  struct Model;  // the torch side
  const Dataset& dataset_;
  std::string instruction_;
  size_t window_items_ = 0;
  bool constrained_ = true;
  bool exclude_seen_ = true;
  std::unique_ptr<Model> model_;
};

}  // namespace grlm
