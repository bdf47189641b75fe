// `grlm recommend`: the next K items for users' histories from a trained run (stages/recommend.cpp).
#include <filesystem>

#include "commands.hpp"
#include "grlm/core/comm.hpp"
#include "grlm/core/config.hpp"
#include "grlm/core/device.hpp"
#include "grlm/core/error.hpp"
#include "grlm/core/log.hpp"
#include "grlm/core/store.hpp"
#include "grlm/stages/stages.hpp"

namespace grlm::cli {
namespace {

// The config the run recorded in its store, then the user's overrides; run_dir is the one given.
Config run_config(Runtime& runtime, const po::variables_map& values) {
  const std::filesystem::path run_dir = values["run-dir"].as<std::string>();
  const std::filesystem::path store = run_dir / RunStore::kFileName;
  std::string recorded, problem;
  if (runtime.is_root()) {
    try {
      if (!std::filesystem::exists(store)) throw InputError(cat("no run store ", store.string(), " (run grlm run first)"));
      recorded = recorded_run_config(store);
      if (recorded.empty()) throw InputError(cat(store.string(), ": no recorded config (/run config): is it a grlm run store?"));
    } catch (const Error& error) {
      problem = error.what();
    }
  }
  throw_rank0_problem<InputError>(runtime.world(), problem);
  recorded = broadcast_bytes(runtime.world(), recorded, 0);
  std::vector<std::string> overrides;
  if (values.count("set")) overrides = values["set"].as<std::vector<std::string>>();
  overrides.push_back("run_dir=" + run_dir.string());
  if (values.count("model")) overrides.push_back("evaluate.model=" + values["model"].as<std::string>());
  // A recommender's defaults, whatever the run evaluated with: constrained beams, no seen items.
  const std::string grounding = values["grounding"].as<std::string>();
  if (grounding != "constrained" && grounding != "fuzzy") {
    throw UsageError(cat("grlm recommend --grounding ", grounding, ": constrained or fuzzy"));
  }
  overrides.push_back(cat("evaluate.constrained=", grounding == "constrained" ? "true" : "false"));
  // The run's transition prior rides on constrained beams; free beams go without it unless --set asks.
  if (grounding == "fuzzy") overrides.insert(overrides.begin(), "evaluate.transition_prior=0");
  overrides.push_back(cat("evaluate.exclude_seen=", values["include-seen"].as<bool>() ? "false" : "true"));
  if (values.count("device")) overrides.push_back("device=" + values["device"].as<std::string>());
  if (values.count("log-level")) overrides.push_back("log.level=" + values["log-level"].as<std::string>());
  return Config::load_object(grlm_config_schema(), nlohmann::json::parse(recorded), cat("the config recorded in ", store.string()),
                             overrides);
}

int run(Runtime& runtime, const po::variables_map& values) {
  for (const char* required : {"run-dir", "input", "output"}) {
    if (!values.count(required)) throw UsageError(cat("grlm recommend needs --", required, " (see grlm recommend --help)"));
  }
  const Config config = run_config(runtime, values);
  log::init(runtime.rank(), log::parse_level(config.get_string("log.level")));
  const Device device = rank_device(runtime, config.get_string("device"));
  RecommendRequestOptions options;
  options.input = values["input"].as<std::string>();
  options.output = values["output"].as<std::string>();
  options.k = values["k"].as<int64_t>();
  options.unknown = values["unknown"].as<std::string>();
  options.chunk_users = values["chunk-users"].as<int64_t>();
  return run_recommend(runtime, config, device, options);
}

}  // namespace

Command recommend_command() {
  Command command;
  command.name = "recommend";
  command.group = "pipeline";
  command.summary = "top-K items for users' histories from a trained run (batch, on many ranks, resumable)";
  command.usage = "--run-dir DIR --input HISTORIES.(txt|jsonl) --output RECS.(jsonl|h5) [--k 10] [--set KEY=VALUE ...]";
  command.options = [] {
    po::options_description options("Recommend");
    options.add_options()
        ("run-dir", po::value<std::string>(), "a run of grlm run: its recorded config, model, tokenizer, prompts and TIDs")
        ("input", po::value<std::string>(),
         "histories, oldest item first: lines 'user item item ...' (the interactions format), or JSON Lines "
         "{\"user_id\": ..., \"item_ids\": [...]} (.jsonl)")
        ("output", po::value<std::string>(),
         "RECS.jsonl (one line per input line, in input order: user_id, item_ids, scores, tids) or RECS.h5 "
         "(user_ids [U], item_ids [U, K], tids [U, K], scores [U, K])")
        ("k", po::value<int64_t>()->default_value(10), "items per user (at most evaluate.num_beams)")
        ("unknown", po::value<std::string>()->default_value("skip"),
         "items not in the run's catalog or without a Term ID: skip (left out, counted and named in the log) | error")
        ("model", po::value<std::string>(), "another model folder (a Hugging Face checkpoint with its tokenizer); "
                                            "default: evaluate.model, else the run's trained model")
        ("grounding", po::value<std::string>()->default_value("constrained"),
         "constrained: trie-constrained beams, each one a real item's TID | fuzzy: free beams grounded by the spec's "
         "rules (sets evaluate.constrained)")
        ("include-seen", po::bool_switch()->default_value(false),
         "also recommend items of the user's history (by default they are excluded: sets evaluate.exclude_seen)")
        ("chunk-users", po::value<int64_t>()->default_value(64), "users per chunk: the unit of dealing and of resume")
        ("set", po::value<std::vector<std::string>>()->composing(),
         "override a key of the run's config, e.g. --set evaluate.num_beams=30 --set evaluate.batch_size=32")
        ("device", po::value<std::string>(), "auto | cpu | cuda")
        ("log-level", po::value<std::string>(), "debug | info | warn | error");
    return options;
  };
  command.details =
      "Prompts, beam search and grounding are evaluate's (--grounding and --include-seen set evaluate.constrained\n"
      "and evaluate.exclude_seen; evaluate.num_beams, evaluate.max_new_tokens, evaluate.batch_size, evaluate.dtype\n"
      "and the transition prior evaluate.transition_prior / transition_smoothing from the run's config or --set; the\n"
      "prior counts every history of the run's data and is off with --grounding fuzzy); a prompt holds the\n"
      "history's last sft.window - 2 items. Scores are the beams' (log-probability / length); null (NaN) for an\n"
      "item grounded fuzzily; with the prior they include its weighted log-probability. A rerun after an interruption resumes from OUTPUT.partial.h5.\n";
  command.run = run;
  return command;
}

}  // namespace grlm::cli
