#include "grlm/stages/history_recommender.hpp"

#include "grlm/core/error.hpp"
#include "grlm/data/cf_neighbours.hpp"
#include "grlm/data/sft_tasks.hpp"
#include "grlm/eval/grounding.hpp"
#include "grlm/stages/artifacts.hpp"
#include "grlm/text/sft_prompt.hpp"
#include "grlm/model/tid_recommender.hpp"

namespace grlm {

struct HistoryRecommender::Model {
  std::unique_ptr<TidRecommender> recommender;
  SftPrompt format;
  Grounder grounder;
  RecommendOptions options;
  // The transition prior's counts: per anchor item, (TID index, times it was followed by an item of that TID).
  std::vector<std::vector<std::pair<size_t, double>>> followers;
};

namespace {

std::vector<std::array<std::string, 5>> valid_tids_by_item(const Dataset& dataset) {
  std::vector<std::array<std::string, 5>> item_tids(dataset.items.size());
  for (size_t item = 0; item < item_tids.size(); ++item) {
    if (has_valid_tid(*dataset.tids, static_cast<ItemIndex>(item))) item_tids[item] = dataset.tids->tids[item];
  }
  return item_tids;
}

// The prior's inputs in the trie's TID order: the base (each TID's items' training interactions,
// plus one per item so that none has zero mass) and every anchor's followers.
void set_transition_prior(const Dataset& dataset, const Grounder& grounder, size_t holdout, RecommendOptions& options,
                          std::vector<std::vector<std::pair<size_t, double>>>& followers) {
  const TransitionCounts counts = count_transitions(dataset.interactions, dataset.items.size(), holdout);
  auto base = std::make_shared<std::vector<double>>(grounder.distinct_tids().size(), 0.0);
  for (uint32_t item = 0; item < counts.popularity.size(); ++item) {
    const int64_t tid = grounder.tid_index(item);
    if (tid >= 0) (*base)[static_cast<size_t>(tid)] += 1.0 + static_cast<double>(counts.popularity[item]);
  }
  options.prior_base = std::move(base);
  followers.assign(counts.followers.size(), {});
  for (size_t anchor = 0; anchor < counts.followers.size(); ++anchor) {
    for (const auto& [follower, times] : counts.followers[anchor]) {
      const int64_t tid = grounder.tid_index(follower);
      if (tid >= 0) followers[anchor].emplace_back(static_cast<size_t>(tid), static_cast<double>(times));
    }
  }
}

}  // namespace

HistoryRecommender::HistoryRecommender(const Config& config, const Dataset& dataset,
                                       const std::filesystem::path& model_folder, const Device& device, size_t prior_holdout)
    : dataset_(dataset),
      instruction_(artifacts::sft_instruction(config, "sequence")),
      window_items_(static_cast<size_t>(std::max<int64_t>(1, config.get_int("sft.window") - 2))),
      constrained_(config.get_bool("evaluate.constrained")),
      exclude_seen_(config.get_bool("evaluate.exclude_seen")) {
  check_config(config);
  if (!dataset.tids) throw Error("internal: the recommender needs the dataset's TIDs");
  if (!std::filesystem::exists(model_folder / "config.json")) {
    throw InputError(cat("no model in ", model_folder.string(),
                         " (train exports it there unless train.export=false; or set evaluate.model)"));
  }
  model_ = std::make_unique<Model>(Model{TidRecommender::load(model_folder.string(), device, config.get_string("evaluate.dtype")),
                                         SftPrompt::for_tokenizer_folder(model_folder), Grounder(valid_tids_by_item(dataset)),
                                         RecommendOptions{}, {}});
  // The trie's sequences in the grounder's TID order, so excluded TIDs index both alike.
  std::vector<std::string> distinct_texts;
  for (const auto& tid : model_->grounder.distinct_tids()) distinct_texts.push_back(" " + tid_text(tid));
  if (constrained_) model_->recommender->constrain_to(distinct_texts, " Title");
  RecommendOptions& options = model_->options;
  options.num_beams = config.get_int("evaluate.num_beams");
  options.num_return_sequences = config.get_int("evaluate.num_return_sequences");
  options.max_new_tokens = config.get_int("evaluate.max_new_tokens");
  options.batch_size = config.get_int("evaluate.batch_size");
  options.prior_weight = config.get_number("evaluate.transition_prior");
  options.prior_smoothing = config.get_number("evaluate.transition_smoothing");
  if (options.prior_weight > 0.0) {
    set_transition_prior(dataset, model_->grounder, prior_holdout, options, model_->followers);
  }
}

void HistoryRecommender::check_config(const Config& config) {
  if (!(config.get_number("evaluate.transition_smoothing") > 0.0)) {
    throw UsageError(cat(config.described("evaluate.transition_smoothing"), " must be > 0"));
  }
  if (config.get_number("evaluate.transition_prior") > 0.0 && !config.get_bool("evaluate.constrained")) {
    throw UsageError(cat(config.described("evaluate.transition_prior"), " needs ", config.described("evaluate.constrained"),
                         " (the prior is fused into trie-constrained beams)"));
  }
}

bool HistoryRecommender::transition_prior() const { return model_->options.prior_weight > 0.0; }

HistoryRecommender::~HistoryRecommender() = default;

void HistoryRecommender::return_at_least(int64_t count) {
  RecommendOptions& options = model_->options;
  options.num_return_sequences = std::min(options.num_beams, std::max(options.num_return_sequences, count));
}

std::string HistoryRecommender::prompt(const std::vector<ItemIndex>& window) const {
  if (window.empty()) throw Error("internal: a prompt needs at least one item");
  std::string text = model_->format.prompt(instruction_, item_line(dataset_, window.front()));
  for (size_t i = 1; i < window.size(); ++i) text += item_line(dataset_, window[i]);
  return text + "Item text ID:";
}

std::vector<Recommendation> HistoryRecommender::recommend(const std::vector<std::string>& prompts,
                                                          const std::vector<ItemIndex>& last_items,
                                                          const std::vector<std::unordered_set<uint32_t>>& seen,
                                                          size_t list_size) const {
  std::vector<Recommendation> recommendations(prompts.size());
  if (prompts.empty()) return recommendations;
  if (!seen.empty() && seen.size() != prompts.size()) throw Error("internal: one seen set per prompt");
  if (last_items.size() != prompts.size()) throw Error("internal: one last item per prompt");
  const std::unordered_set<uint32_t> none;
  const auto seen_of = [&](size_t p) -> const std::unordered_set<uint32_t>& {
    return exclude_seen_ && !seen.empty() ? seen[p] : none;
  };
  RecommendOptions options = model_->options;
  if (exclude_seen_ && constrained_ && !seen.empty()) {
    for (size_t p = 0; p < prompts.size(); ++p) options.excluded_tids.push_back(model_->grounder.tids_covered_by(seen[p]));
  }
  if (options.prior_weight > 0.0) {
    for (ItemIndex last : last_items) {
      options.prior_counts.push_back(last < model_->followers.size() ? model_->followers[last] : std::vector<std::pair<size_t, double>>{});
    }
  }
  const std::vector<std::vector<Continuation>> generated = model_->recommender->recommend(prompts, options);
  for (size_t p = 0; p < prompts.size(); ++p) {
    Recommendation& recommendation = recommendations[p];
    std::vector<double> text_scores;
    for (const Continuation& continuation : generated[p]) {
      recommendation.generated.push_back(continuation.text);
      text_scores.push_back(continuation.score);
    }
    const std::vector<uint32_t> ranked = model_->grounder.rank(tid_groups(recommendation.generated), list_size, seen_of(p));
    recommendation.items.assign(ranked.begin(), ranked.end());
    recommendation.scores = model_->grounder.exact_scores(ranked, recommendation.generated, text_scores);
  }
  return recommendations;
}

}  // namespace grlm
