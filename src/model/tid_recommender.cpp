#include "grlm/model/tid_recommender.hpp"

#include <algorithm>
#include <set>

#include "grlm/core/error.hpp"
#include "grlm/model/checkpoint.hpp"
#include "grlm/model/constrained.hpp"
#include "grlm/model/generation.hpp"
#include "grlm/text/tokenizer.hpp"
#include "grlm/model/dtype.hpp"

namespace grlm {
namespace {

std::vector<int64_t> to_int64(const std::vector<TokenId>& ids) { return std::vector<int64_t>(ids.begin(), ids.end()); }

class CheckpointRecommender final : public TidRecommender {
 public:
  CheckpointRecommender(const std::string& folder, Transformer model)
      : model_(std::move(model)), tokenizer_(Tokenizer::load(folder)), defaults_(generation_defaults(folder, model_.config())) {
    if (defaults_.eos_token_ids.empty()) {
      throw InputError(cat(folder, ": no eos token in generation_config.json, config.json or the tokenizer"));
    }
    eos_ = defaults_.eos_token_ids;
  }

  void constrain_to(const std::vector<std::string>& tid_texts, const std::string& end_text) override {
    std::vector<std::vector<int64_t>> sequences;
    for (const std::string& text : tid_texts) sequences.push_back(to_int64(tokenizer_.encode(text)));
    const std::vector<TokenId> end = tokenizer_.encode(end_text);
    if (end.empty()) throw Error(cat("constrained decoding: '", end_text, "' has no tokens"));
    std::set<int64_t> ends(defaults_.eos_token_ids.begin(), defaults_.eos_token_ids.end());
    ends.insert(end.front());
    eos_.assign(ends.begin(), ends.end());
    trie_ = std::make_shared<TokenTrie>(sequences);
    cached_base_.reset();
    base_.reset();
  }

  size_t prompt_tokens(const std::string& prompt) const override { return tokenizer_.encode(prompt).size(); }

  std::vector<std::vector<Continuation>> recommend(const std::vector<std::string>& prompts,
                                                   const RecommendOptions& options) const override {
    std::vector<std::vector<int64_t>> ids;
    for (const std::string& prompt : prompts) ids.push_back(to_int64(tokenizer_.encode(prompt)));
    GenerationOptions generation;
    generation.max_new_tokens = options.max_new_tokens;
    generation.num_beams = options.num_beams;
    generation.num_return_sequences = options.num_return_sequences;
    generation.eos_token_ids = eos_;
    generation.pad_token_id = defaults_.pad_token_id;
    const std::vector<std::shared_ptr<const TokenTrie::Exclusion>> exclusions = exclusions_of(options, prompts.size());
    const std::vector<std::shared_ptr<const TokenTrie::SparseMasses>> prior_counts = prior_counts_of(options, prompts.size());
    const std::shared_ptr<const TokenTrie::Masses> prior_base = prior_base_of(options);
    const auto options_for_batch = [&](const std::vector<size_t>& members) {
      GenerationOptions batch = generation;
      if (!trie_) return batch;
      std::vector<std::shared_ptr<const TokenTrie::Exclusion>> my_exclusions;
      if (!exclusions.empty()) {
        for (size_t member : members) my_exclusions.push_back(exclusions[member]);
      }
      std::shared_ptr<TriePrior> prior;
      if (prior_base) {
        prior = std::make_shared<TriePrior>(TriePrior{options.prior_weight, options.prior_smoothing, prior_base, {}});
        for (size_t member : members) prior->counts.push_back(prior_counts.empty() ? nullptr : prior_counts[member]);
      }
      batch.logits_processor = trie_processor(trie_, eos_, std::move(my_exclusions), generation.num_beams, std::move(prior));
      return batch;
    };
    const auto results =
        generate_in_batches(model_, ids, options_for_batch, static_cast<size_t>(std::max<int64_t>(1, options.batch_size)));
    std::vector<std::vector<Continuation>> continuations;
    continuations.reserve(results.size());
    for (const auto& sequences : results) {
      std::vector<Continuation>& mine = continuations.emplace_back();
      for (const GeneratedSequence& sequence : sequences) {
        mine.push_back({tokenizer_.decode(std::vector<TokenId>(sequence.tokens.begin(), sequence.tokens.end()), true),
                        sequence.score});
      }
    }
    return continuations;
  }

 private:
  // Null when the prior is off.
  std::shared_ptr<const TokenTrie::Masses> prior_base_of(const RecommendOptions& options) const {
    if (options.prior_weight == 0.0) return nullptr;
    if (!trie_) throw UsageError("a Term ID prior needs constrained decoding (constrain_to)");
    if (!options.prior_base) throw UsageError("a Term ID prior needs its base weights");
    if (!base_ || cached_base_ != options.prior_base) {
      base_ = std::make_shared<const TokenTrie::Masses>(trie_->distribution(*options.prior_base));
      cached_base_ = options.prior_base;
    }
    return base_;
  }

  std::vector<std::shared_ptr<const TokenTrie::SparseMasses>> prior_counts_of(const RecommendOptions& options, size_t prompts) const {
    if (options.prior_weight == 0.0 || options.prior_counts.empty()) return {};
    if (options.prior_counts.size() != prompts) {
      throw UsageError(cat("Term ID prior counts for ", options.prior_counts.size(), " prompts, but ", prompts, " prompts"));
    }
    std::vector<std::shared_ptr<const TokenTrie::SparseMasses>> counts;
    counts.reserve(prompts);
    for (const auto& pairs : options.prior_counts) {
      counts.push_back(pairs.empty() ? nullptr : std::make_shared<const TokenTrie::SparseMasses>(trie_->sparse_masses(pairs)));
    }
    return counts;
  }

  std::vector<std::shared_ptr<const TokenTrie::Exclusion>> exclusions_of(const RecommendOptions& options, size_t prompts) const {
    if (options.excluded_tids.empty()) return {};
    if (!trie_) throw UsageError("excluded Term IDs need constrained decoding (constrain_to)");
    if (options.excluded_tids.size() != prompts) {
      throw UsageError(cat("excluded Term IDs for ", options.excluded_tids.size(), " prompts, but ", prompts, " prompts"));
    }
    std::vector<std::shared_ptr<const TokenTrie::Exclusion>> exclusions;
    exclusions.reserve(prompts);
    for (const std::vector<size_t>& excluded : options.excluded_tids) {
      exclusions.push_back(excluded.empty() ? nullptr : std::make_shared<const TokenTrie::Exclusion>(trie_->exclude(excluded)));
    }
    return exclusions;
  }

  Transformer model_;
  Tokenizer tokenizer_;
  GenerationDefaults defaults_;
  std::vector<int64_t> eos_;
  std::shared_ptr<const TokenTrie> trie_;
  // The base distribution of the last prior seen (recomputing it walks the whole trie).
  mutable std::shared_ptr<const std::vector<double>> cached_base_;
  mutable std::shared_ptr<const TokenTrie::Masses> base_;
};

}  // namespace

std::unique_ptr<TidRecommender> TidRecommender::load(const std::string& folder, const Device& device,
                                                     const std::string& dtype) {
  const LoadOptions options = load_options_on(device, dtype, "recommender", folder);
  return std::make_unique<CheckpointRecommender>(folder, load_pretrained(folder, options));
}

}  // namespace grlm
