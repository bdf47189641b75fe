// Stage "evaluate" (GRLM-SPEC.md stage 6): per test user, the sequence prompt continued by the
// user's known items and "Item text ID:", beam search (20 beams, 20 sequences, 30 new tokens),
// the generated Term IDs grounded to items (the spec's exact + fuzzy rules, or trie-constrained
// beams that can only spell real items), Recall@K and NDCG@K. Users are cut into chunks dealt to
// the ranks; each finished chunk is committed to the run store, so the stage resumes. With
// evaluate.exclude_seen the items a user had before the target are never recommended.
#include <algorithm>
#include <cmath>
#include <map>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "grlm/core/chunked_work.hpp"
#include "grlm/core/error.hpp"
#include "grlm/core/log.hpp"
#include "grlm/data/domains.hpp"
#include "grlm/data/sft_tasks.hpp"
#include "grlm/data/text_file.hpp"
#include "grlm/eval/grounding.hpp"
#include "grlm/stages/stages.hpp"
#include "grlm/stages/artifacts.hpp"
#include "grlm/stages/history_recommender.hpp"

namespace grlm {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

namespace {


constexpr size_t kListSize = 20;

// The items of the user's window before the target: what the prompt holds.
std::vector<ItemIndex> prompt_window(const SequenceSample& sequence, bool test_split) {
  return {sequence.items.begin(), sequence.items.end() - (test_split ? 1 : 2)};
}

// The items the user had before the target (all of them, not only the prompt's window).
std::unordered_set<uint32_t> seen_items(const Interactions& interactions, const SequenceSample& sequence, bool test_split) {
  const uint64_t begin = interactions.offsets[sequence.user];
  const uint64_t end = interactions.offsets[sequence.user + 1] - (test_split ? 1 : 2);
  std::unordered_set<uint32_t> seen;
  for (uint64_t i = begin; i < end; ++i) seen.insert(static_cast<uint32_t>(interactions.items[i]));
  return seen;
}

Json metrics_json(const RankingMetrics& metrics) {
  Json json = Json::object();
  for (size_t k = 0; k < metrics.ks.size(); ++k) json[cat("recall@", metrics.ks[k])] = metrics.recall(k);
  for (size_t k = 0; k < metrics.ks.size(); ++k) json[cat("ndcg@", metrics.ks[k])] = metrics.ndcg(k);
  json["num_users"] = metrics.users;
  return json;
}

}  // namespace

void check_evaluate_config(const Config& config, int /*world_size*/) {
  if (config.get_int("evaluate.num_return_sequences") > config.get_int("evaluate.num_beams")) {
    throw UsageError(cat(config.described("evaluate.num_return_sequences"), " must be <= ", config.described("evaluate.num_beams")));
  }
  HistoryRecommender::check_config(config);  // before the model loads
}

void run_evaluate(RunContext& context, const StageRun& run) {
  const Config& config = context.config;
  RunStore& store = context.store;
  Runtime& runtime = context.runtime;
  const std::string split = config.get_string("evaluate.split");
  const bool test_split = split == "test";
  if (!test_split && config.get_bool("sft.train_on_validation")) {
    log::warn("evaluate: split validation with sft.train_on_validation=true: the model was trained on these targets, "
              "so the figures are not held out");
  }
  const bool constrained = config.get_bool("evaluate.constrained");
  const bool exclude_seen = config.get_bool("evaluate.exclude_seen");

  const Dataset& dataset = artifacts::dataset_with_tids(config, store);
  SequenceTaskReport report;
  // Prompts hold the compat outputs (items 2 .. n-2) and the validation line, however the model was trained.
  const SequenceTaskOptions prompt_items{static_cast<size_t>(config.get_int("sft.window")), false};
  std::vector<SequenceSample> users = build_sequence_samples(dataset, artifacts::sft_instruction(config, "sequence"), prompt_items, report);
  const int64_t max_users = config.get_int("evaluate.max_users");
  if (max_users > 0 && static_cast<int64_t>(users.size()) > max_users) users.resize(static_cast<size_t>(max_users));
  if (users.empty()) throw InputError("evaluate: no user has a sequence sample (every user needs 3 items with valid TIDs)");
  const uint64_t user_count = users.size();

  const fs::path model_folder = config.get_optional_string("evaluate.model").value_or(artifacts::trained_model_folder(config));
  // The transition prior counts what precedes the evaluated targets, as the baseline does.
  const HistoryRecommender recommender(config, dataset, model_folder, context.device, test_split ? 1 : 2);
  if (exclude_seen) {
    size_t unreachable = 0;
    for (const SequenceSample& sequence : users) {
      const ItemIndex target = test_split ? sequence.test_item : sequence.validation_item;
      unreachable += seen_items(dataset.interactions, sequence, test_split).count(static_cast<uint32_t>(target));
    }
    if (unreachable > 0) {
      log::warn("evaluate.exclude_seen: ", unreachable, " of ", users.size(),
                " users had their target before (a repeat interaction), so it cannot be recommended to them");
    }
  }

  // Chunks of users; the ones not done yet are dealt round-robin, one per rank per round.
  const std::string group = "/" + run.name;
  ChunkedWork work(runtime, store, run.name, user_count, static_cast<uint64_t>(config.get_int("evaluate.chunk_users")));
  if (!store.exists(group + "/ranked")) {
    store.create_dataset(group + "/ranked", {user_count, kListSize}, DType::Int64);
    store.create_dataset(group + "/hit_rank", {user_count}, DType::Int64);
  }
  const fs::path out_dir = artifacts::evaluate_dir(config);
  if (runtime.is_root()) fs::create_directories(out_dir / "chunks");
  runtime.world().barrier();
  const auto evaluate_chunk = [&](const std::optional<WorkChunk>& chunk) {
    std::vector<int64_t> ranked_rows;
    std::vector<int64_t> hits;
    if (chunk) {
      std::vector<std::string> prompts;
      std::vector<ItemIndex> last_items;
      std::vector<std::unordered_set<uint32_t>> seen;
      for (uint64_t user = chunk->first; user < chunk->first + chunk->count; ++user) {
        const std::vector<ItemIndex> window = prompt_window(users[user], test_split);
        prompts.push_back(recommender.prompt(window));
        last_items.push_back(window.back());
        if (exclude_seen) seen.push_back(seen_items(dataset.interactions, users[user], test_split));
      }
      const std::vector<Recommendation> recommendations = recommender.recommend(prompts, last_items, seen, kListSize);
      std::string lines;
      for (uint64_t user = chunk->first; user < chunk->first + chunk->count; ++user) {
        const Recommendation& recommendation = recommendations[user - chunk->first];
        const std::vector<uint32_t>& ranked = recommendation.items;
        const SequenceSample& sequence = users[user];
        const ItemIndex target = test_split ? sequence.test_item : sequence.validation_item;
        const int64_t hit = hit_rank(ranked, static_cast<uint32_t>(target));
        Json ranked_ids = Json::array(), ranked_scores = Json::array();
        for (size_t i = 0; i < kListSize; ++i) {
          ranked_rows.push_back(i < ranked.size() ? static_cast<int64_t>(ranked[i]) : -1);
          if (i >= ranked.size()) continue;
          ranked_ids.push_back(dataset.items.id(ranked[i]));
          const double score = recommendation.scores[i];
          ranked_scores.push_back(std::isnan(score) ? Json(nullptr) : Json(score));
        }
        hits.push_back(hit);
        lines += Json{{"user_id", sequence.user_id},        {"target_item_id", dataset.items.id(target)},
                      {"hit_rank", hit},                    {"ranked_item_ids", ranked_ids},
                      {"scores", ranked_scores},            {"generated", recommendation.generated}}.dump() + "\n";
      }
      write_file_atomically(out_dir / "chunks" / cat("chunk_", chunk->index, ".jsonl"), lines);
    }
    const uint64_t first = chunk ? chunk->first : 0;
    store.write_rows(group + "/ranked", first, hits.size(), ranked_rows.data());
    store.write_rows(group + "/hit_rank", first, hits.size(), hits.data());
  };
  work.run(Dealing::round_robin(),
           {cat("evaluate (", split, ", ", constrained ? "constrained" : "fuzzy", " grounding)"), "users",
            config.get_number("log.progress_interval_s")},
           evaluate_chunk);

  // Metrics over every user (also those evaluated before a resume), per domain when ids are
  // namespaced (merged domains).
  const std::vector<int64_t> all_hits = store.read_all<int64_t>(group + "/hit_rank");
  RankingMetrics overall;
  std::map<std::string, RankingMetrics> per_domain;
  for (uint64_t user = 0; user < user_count; ++user) {
    overall.add(all_hits[user]);
    const ItemIndex target = test_split ? users[user].test_item : users[user].validation_item;
    const std::string domain = domain_of(dataset.items.id(target));
    if (!domain.empty()) per_domain[domain].add(all_hits[user]);
  }
  Json metrics = metrics_json(overall);
  metrics["split"] = split;
  metrics["grounding"] = constrained ? "constrained" : "fuzzy";
  metrics["exclude_seen"] = exclude_seen;
  if (recommender.transition_prior()) {
    metrics["transition_prior"] = config.get_number("evaluate.transition_prior");
    metrics["transition_smoothing"] = config.get_number("evaluate.transition_smoothing");
  }
  metrics["model"] = model_folder.string();
  if (!per_domain.empty()) {
    Json domains = Json::object();
    for (const auto& [name, domain_metrics] : per_domain) domains[name] = metrics_json(domain_metrics);
    metrics["per_domain"] = domains;
  }
  std::vector<std::string> records;
  if (runtime.is_root()) {
    std::string all;
    for (uint64_t chunk = 0; chunk < work.num_chunks(); ++chunk) all += read_file_bytes(out_dir / "chunks" / cat("chunk_", chunk, ".jsonl"));
    write_file_atomically(out_dir / "records.jsonl", all);
    size_t start = 0;
    while (start < all.size()) {
      const size_t end = all.find('\n', start);
      records.push_back(all.substr(start, end - start));
      start = end + 1;
    }
    write_file_atomically(artifacts::metrics_file(config), metrics.dump(2) + "\n");
  }
  store.remove_if_exists(group + "/records");
  store.write_strings(group + "/records", records);
  store.set_attribute(group, "metrics", metrics.dump());
  log::info("evaluate: ", split, " users ", user_count, ", Recall@5 ", overall.recall_at(5), ", Recall@10 ", overall.recall_at(10),
            ", NDCG@10 ", overall.ndcg_at(10), "; ", artifacts::metrics_file(config).string());
}

}  // namespace grlm
