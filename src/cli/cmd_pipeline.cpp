// `grlm run` and one command per stage: the same path from config to run store to stages.
#include <algorithm>
#include <iomanip>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include "commands.hpp"
#include "grlm/core/config.hpp"
#include "grlm/core/device.hpp"
#include "grlm/core/error.hpp"
#include "grlm/core/log.hpp"
#include "grlm/core/run_lock.hpp"
#include "grlm/core/store.hpp"
#include "grlm/data/dataset.hpp"
#include "grlm/data/text_file.hpp"
#include "grlm/eval/grounding.hpp"
#include "grlm/stages/artifacts.hpp"
#include "grlm/stages/stages.hpp"

namespace grlm::cli {
namespace {

Config config_from(const po::variables_map& values) {
  std::optional<std::filesystem::path> file;
  if (values.count("config")) file = values["config"].as<std::string>();
  std::vector<std::string> overrides;
  if (values.count("set")) overrides = values["set"].as<std::vector<std::string>>();
  // Shortcut flags are applied last, like the --set overrides they stand for.
  if (values.count("run-dir")) overrides.push_back("run_dir=" + values["run-dir"].as<std::string>());
  if (values.count("device")) overrides.push_back("device=" + values["device"].as<std::string>());
  if (values.count("log-level")) overrides.push_back("log.level=" + values["log-level"].as<std::string>());
  return Config::load(grlm_config_schema(), file, overrides);
}

void print_outcomes(const std::vector<StageOutcome>& outcomes) {
  std::cout << "\n" << std::left << std::setw(12) << "stage" << std::setw(22) << "action" << "seconds\n";
  for (const StageOutcome& outcome : outcomes) {
    std::cout << std::setw(12) << outcome.name << std::setw(22) << stage_action_name(outcome.action) << std::fixed << std::setprecision(2)
              << outcome.seconds << "\n";
  }
}

// The evaluation's metrics.json as a table (after `grlm run` or `grlm evaluate`).
void print_metrics(const std::filesystem::path& file) {
  if (!std::filesystem::exists(file)) return;
  const nlohmann::json metrics = nlohmann::json::parse(read_file_bytes(file));
  std::cout << "\n" << metrics.value("split", std::string("test")) << " metrics (" << metrics.value("num_users", 0)
            << " users, " << metrics.value("grounding", std::string("fuzzy")) << " grounding; " << file.string() << ")\n";
  std::cout << std::left << std::setw(10) << "K" << std::setw(12) << "Recall@K" << "NDCG@K\n";
  for (size_t k : ranking_cutoffs()) {
    std::cout << std::setw(10) << k << std::setw(12) << std::fixed << std::setprecision(4)
              << metrics.value(cat("recall@", k), 0.0) << metrics.value(cat("ndcg@", k), 0.0) << "\n";
  }
}

int run_pipeline(Runtime& runtime, const po::variables_map& values, PipelineOptions options) {
  const Config config = config_from(values);
  log::init(runtime.rank(), log::parse_level(config.get_string("log.level")));
  const Device device = rank_device(runtime, config.get_string("device"));
  log::info("grlm ", GRLM_VERSION, ": config ", config.source(), ", run_dir ", config.get_string("run_dir"));
  try {
    // Every rank checks the inputs up front, so a bad file fails in seconds, before any stage.
    load_dataset_once(config);
  } catch (const InputError& error) {
    throw CollectiveFailure(error.what());
  }
  const RunLock lock(runtime, config.get_string("run_dir"));
  RunStore store(runtime, config.get_string("run_dir"));
  RunContext context{config, runtime, store, device};
  record_run_config(context);
  std::vector<StageOutcome> outcomes;
  try {
    outcomes = grlm_pipeline().run(context, options);
  } catch (const std::exception& error) {
    // An error of this rank alone: the others may be inside a collective that the store's
    // collective close would wait on forever. Errors every rank raised close it together.
    if (!raised_on_every_rank(error)) store.abandon();
    throw;
  }
  if (runtime.is_root()) {
    print_outcomes(outcomes);
    const bool evaluated = std::any_of(outcomes.begin(), outcomes.end(), [](const StageOutcome& outcome) {
      return outcome.name == "evaluate" && outcome.action != StageAction::Disabled;
    });
    if (evaluated) print_metrics(artifacts::metrics_file(config));
  }
  return 0;
}

Command pipeline_run_command() {
  Command command;
  command.name = "run";
  command.group = "pipeline";
  command.summary = "run every stage in order: skip complete ones, resume interrupted ones, redo changed ones";
  command.usage = "--config FILE [--set KEY=VALUE ...] [--from STAGE] [--until STAGE]";
  command.options = [] {
    po::options_description options = config_options();
    po::options_description stages("Stage selection");
    stages.add_options()
        ("from", po::value<std::string>(), "recompute this stage and every stage after it")
        ("until", po::value<std::string>(), "stop after this stage");
    options.add(stages);
    return options;
  };
  command.run = [](Runtime& runtime, const po::variables_map& values) {
    PipelineOptions options;
    if (values.count("from")) options.from = values["from"].as<std::string>();
    if (values.count("until")) options.until = values["until"].as<std::string>();
    return run_pipeline(runtime, values, options);
  };
  return command;
}

// The config keys of a stage's groups (embed.*, sft.*, train.*, ...) with defaults and help.
std::string stage_config_help(const StageDef& stage) {
  std::set<std::string> groups;
  for (const std::string& key : stage.config_keys) groups.insert(key.substr(0, key.find('.')));
  std::ostringstream text;
  text << "Config keys (set in the config file or with --set KEY=VALUE; docs/CONFIG.md):\n";
  for (const ConfigKey& key : grlm_config_schema()) {
    if (!groups.count(key.path.substr(0, key.path.find('.')))) continue;
    const std::string shown = key.default_value.is_null() ? "unset" : key.default_value.dump();
    text << "  " << std::left << std::setw(34) << key.path << " " << key.help << " (default " << shown << ")\n";
  }
  return text.str();
}

Command stage_command(const StageDef& stage) {
  Command command;
  command.name = stage.name;
  command.group = "stage";
  command.summary = stage.summary;
  command.usage = "--config FILE [--set KEY=VALUE ...]";
  command.options = config_options;
  command.details = stage_config_help(stage);
  const std::string name = stage.name;
  command.run = [name](Runtime& runtime, const po::variables_map& values) {
    PipelineOptions options;
    options.only = name;
    return run_pipeline(runtime, values, options);
  };
  return command;
}

// `grlm similar` also runs on a user's own vectors, without a config or run store.
Command with_standalone_similar(Command command) {
  command.usage += "\n       grlm similar --vectors FILE.h5:/DATASET --k K --output OUT.h5 [--dtype float32|bfloat16] [--device auto|cpu|cuda]";
  command.options = [] {
    po::options_description options = config_options();
    po::options_description standalone("On your own vectors (no config, no run store)");
    standalone.add_options()
        ("vectors", po::value<std::string>(), "FILE.h5:/DATASET, an N x D matrix (any float type); rows are cosine-normalised")
        ("k", po::value<int64_t>()->default_value(20), "neighbours per row (clamped to N - 1 with a warning)")
        ("output", po::value<std::string>(), "HDF5 file to write: ids (int64, 0-based rows, N x K), scores (float32, N x K)")
        ("dtype", po::value<std::string>()->default_value("float32"), "matrix products in float32 or bfloat16");
    options.add(standalone);
    return options;
  };
  command.run = [stage_run = command.run](Runtime& runtime, const po::variables_map& values) {
    if (!values.count("vectors")) return stage_run(runtime, values);
    if (!values.count("output")) throw UsageError("grlm similar --vectors needs --output OUT.h5");
    SimilarStandaloneOptions standalone;
    standalone.vectors = values["vectors"].as<std::string>();
    standalone.k = values["k"].as<int64_t>();
    standalone.output = values["output"].as<std::string>();
    standalone.dtype = values["dtype"].as<std::string>();
    if (values.count("device")) standalone.device = values["device"].as<std::string>();
    return run_similar_standalone(runtime, standalone);
  };
  return command;
}

}  // namespace

std::vector<Command> pipeline_commands() {
  std::vector<Command> list = {pipeline_run_command()};
  const Pipeline pipeline = grlm_pipeline();
  // Stages whose command does more than run the stage, by name.
  const std::map<std::string, std::function<Command(Command)>> extended = {{"similar", with_standalone_similar}};
  for (const StageDef& stage : pipeline.stages()) {
    const auto extension = extended.find(stage.name);
    list.push_back(extension == extended.end() ? stage_command(stage) : extension->second(stage_command(stage)));
  }
  return list;
}

}  // namespace grlm::cli
