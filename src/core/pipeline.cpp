#include "grlm/core/pipeline.hpp"

#include <chrono>
#include <map>

#include "grlm/core/error.hpp"
#include "grlm/core/hash.hpp"
#include "grlm/core/log.hpp"

namespace grlm {

Pipeline::Pipeline(std::vector<StageDef> stages) : stages_(std::move(stages)) {
  for (size_t i = 0; i < stages_.size(); ++i) {
    for (const std::string& upstream : stages_[i].upstream) {
      bool earlier = false;
      for (size_t j = 0; j < i; ++j) earlier = earlier || stages_[j].name == upstream;
      if (!earlier) throw Error(cat("stage ", stages_[i].name, ": upstream ", upstream, " must come first"));
    }
  }
}

const StageDef& Pipeline::stage(const std::string& name) const {
  for (const StageDef& stage : stages_) {
    if (stage.name == name) return stage;
  }
  std::vector<std::string> known;
  for (const StageDef& stage : stages_) known.push_back(stage.name);
  throw UsageError(cat("unknown stage '", name, "' (stages: ", join(known, ", "), ")"));
}

std::string Pipeline::stage_hash(
    RunContext& context, const StageDef& stage,
    const std::vector<std::pair<std::string, std::string>>& upstream_hashes) const {
  // Only rank 0 reads the inputs; an unreadable one is sent to every rank as the error, so that
  // all ranks fail together instead of the others waiting in the broadcast.
  std::string digest;
  std::string failure;
  if (context.runtime.is_root()) {
    Hasher hasher;
    hasher.field(stage.name).field(std::to_string(stage.format_version));
    hasher.field(context.config.select(stage.config_keys).dump());
    for (const std::string& key : stage.input_files) {
      const std::optional<std::string> path = context.config.get_optional_string(key);
      try {
        hasher.field(key).field(path ? hash_path(*path) : "none");
      } catch (const std::exception& error) {
        failure = cat(key, ": ", error.what());
        break;
      }
    }
    for (const auto& [name, hash] : upstream_hashes) hasher.field(name).field(hash);
    digest = hasher.hex();
  }
  throw_rank0_problem<InputError>(context.runtime.world(), failure);
  return broadcast_bytes(context.runtime.world(), digest, 0);
}

namespace {

// One stage of the command, decided before any runs.
struct PlannedStage {
  const StageDef* def = nullptr;
  bool enabled = false;
  bool runs = false;    // computed now (else skipped: current, disabled, or only needed as upstream)
  bool forced = false;  // at or after --from: recomputed from scratch
  std::string hash;
  std::vector<std::pair<std::string, std::string>> upstream;  // name -> hash ("disabled")
  StageStatus status;
};

}  // namespace

const char* stage_action_name(StageAction action) {
  switch (action) {
    case StageAction::Disabled: return "disabled by config";
    case StageAction::Skipped: return "skipped (complete)";
    case StageAction::Ran: return "ran";
    case StageAction::Resumed: return "resumed";
  }
  return "?";
}

std::vector<StageOutcome> Pipeline::run(RunContext& context, const PipelineOptions& options) const {
  if (options.from) stage(*options.from);
  if (options.until) stage(*options.until);
  if (options.only) stage(*options.only);
  // Plan: every stage's hash and whether it runs, so the config rules of the stages that will run
  // are checked before the first one starts (not after hours of work).
  std::map<std::string, std::string> hashes;  // enabled stages' hashes so far
  std::vector<PlannedStage> plan;
  bool forced = false;
  for (const StageDef& stage_def : stages_) {
    forced = forced || (options.from && *options.from == stage_def.name);
    PlannedStage planned;
    planned.def = &stage_def;
    planned.enabled = stage_def.enabled(context.config);
    planned.forced = forced;
    if (planned.enabled) {
      for (const std::string& name : stage_def.upstream) {
        const auto found = hashes.find(name);
        planned.upstream.emplace_back(name, found == hashes.end() ? "disabled" : found->second);
      }
      planned.hash = stage_hash(context, stage_def, planned.upstream);
      hashes[stage_def.name] = planned.hash;
      planned.status = context.store.stage_status(stage_def.name);
      const bool current = planned.status.state == StageState::Complete && planned.status.stage_hash == planned.hash;
      if (options.only && *options.only != stage_def.name) {
        if (!current) {
          throw UsageError(cat("stage ", *options.only, " needs the results of stage ", stage_def.name, ", which is ",
                               planned.status.state == StageState::Complete ? "out of date" : stage_state_name(planned.status.state),
                               ": run 'grlm ", stage_def.name, "' or 'grlm run' first"));
        }
      } else {
        planned.runs = forced || !current;
      }
    }
    plan.push_back(std::move(planned));
    if ((options.until && *options.until == stage_def.name) || (options.only && *options.only == stage_def.name)) break;
  }
  for (const PlannedStage& planned : plan) {
    if (planned.runs) planned.def->check(context.config, context.runtime.world_size());
  }

  std::vector<StageOutcome> outcomes;
  for (const PlannedStage& planned : plan) {
    const StageDef& stage_def = *planned.def;
    context.runtime.throw_if_stop_requested();
    if (!planned.enabled) {
      outcomes.push_back({stage_def.name, StageAction::Disabled, 0});
      log::info("stage ", stage_def.name, ": not needed with this config");
      continue;
    }
    if (!planned.runs) {
      outcomes.push_back({stage_def.name, StageAction::Skipped, 0});
      if (!options.only || *options.only == stage_def.name) log::info("stage ", stage_def.name, ": complete, skipped");
      continue;
    }
    const StageStatus& status = planned.status;
    if (status.state == StageState::Complete) {
      log::info("stage ", stage_def.name, ": ", planned.forced ? "recomputing (--from)" : "options or inputs changed, recomputing");
    }
    const auto start = std::chrono::steady_clock::now();
    if (status.state == StageState::InProgress && !stage_def.resumes) {
      log::info("stage ", stage_def.name, ": an interrupted run's partial work is not kept, starting over");
    }
    StageRun run{stage_def.name, planned.hash, false};
    run.resumed = context.store.start_stage(stage_def.name, planned.hash, /*resume=*/!planned.forced && stage_def.resumes);
    log::info("stage ", stage_def.name, ": ", run.resumed ? "resuming interrupted work" : "starting");
    stage_def.run(context, run);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    nlohmann::json upstream_record = nlohmann::json::object();
    for (const auto& [name, upstream_hash] : planned.upstream) upstream_record[name] = upstream_hash;
    context.store.complete_stage(
        stage_def.name, {{"stage_hash", planned.hash},
                         {"config_hash", hash_bytes(context.config.select(stage_def.config_keys).dump())},
                         {"config", context.config.select(stage_def.config_keys)},
                         {"upstream", upstream_record},
                         {"grlm_version", GRLM_VERSION},
                         {"world_size", context.runtime.world_size()},
                         {"completed_at", log::utc_now()},
                         {"seconds", seconds}});
    outcomes.push_back({stage_def.name, run.resumed ? StageAction::Resumed : StageAction::Ran, seconds});
    log::info("stage ", stage_def.name, ": complete in ", seconds, " s");
  }
  return outcomes;
}

void record_run_config(RunContext& context) {
  context.store.set_attributes("/run", {{"config", context.config.tree().dump(2)},
                                       {"grlm_version", GRLM_VERSION},
                                       {"world_size", std::to_string(context.runtime.world_size())},
                                       {"updated_at", log::utc_now()}});
}

}  // namespace grlm
