// Stages and the pipeline driver: a stage is a name, what it depends on, and one entry point over
// a shared run context. The driver decides from hashes which stages to skip, resume or recompute.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "grlm/core/config.hpp"
#include "grlm/core/device.hpp"
#include "grlm/core/runtime.hpp"
#include "grlm/core/store.hpp"

namespace grlm {

// Everything a stage may use; stages read inputs from the store and write outputs to it.
struct RunContext {
  const Config& config;
  Runtime& runtime;
  RunStore& store;
  Device device;
};

// What the driver tells a stage when it starts it.
struct StageRun {
  std::string name;        // the stage's group in the store is "/" + name
  std::string stage_hash;  // identity of this computation (options, inputs, upstream results)
  bool resumed = false;    // partial work of an interrupted run with the same hash was kept
};

struct StageDef {
  std::string name;
  std::string summary;                     // one line for --help and logs
  std::vector<std::string> upstream;       // stages whose results it reads
  std::vector<std::string> config_keys;    // config keys or groups its results depend on
  std::vector<std::string> input_files;    // config keys naming files or folders whose content it reads
  int format_version = 1;                  // bump when the stage's outputs change meaning
  // False when the config makes the stage unnecessary (e.g. data.tids skips extraction); the
  // driver then leaves it out and downstream stages depend on nothing from it.
  std::function<bool(const Config&)> enabled = [](const Config&) { return true; };
  std::function<void(RunContext&, const StageRun&)> run;
  // True when the stage keeps an interrupted run's partial work (chunks, checkpoints) and carries
  // on from it; false: an interrupted run starts over from an empty group.
  bool resumes = true;
  // The rules between its config keys (each key's own type and range are the schema's), checked
  // before any stage of the command runs when this one will: throws UsageError naming the keys,
  // their values and where each came from. `world_size`: the ranks of this run.
  std::function<void(const Config&, int world_size)> check = [](const Config&, int) {};
};

struct PipelineOptions {
  std::optional<std::string> from;   // recompute this stage and everything after it
  std::optional<std::string> until;  // stop after this stage
  // Run this stage alone: its upstream stages must already be complete and current.
  std::optional<std::string> only;
};

// What the driver did with a stage.
enum class StageAction {
  Disabled,  // the config makes it unnecessary
  Skipped,   // complete and current
  Ran,
  Resumed,   // carried on from an interrupted run's work
};
// "disabled by config", "skipped (complete)", "ran", "resumed".
const char* stage_action_name(StageAction action);

struct StageOutcome {
  std::string name;
  StageAction action = StageAction::Ran;
  double seconds = 0;
};

class Pipeline {
 public:
  explicit Pipeline(std::vector<StageDef> stages);  // in execution order; upstream must come first
  const std::vector<StageDef>& stages() const { return stages_; }
  const StageDef& stage(const std::string& name) const;

  // The hash that identifies a stage's result under this config and these inputs (collective:
  // rank 0 hashes input files and broadcasts).
  std::string stage_hash(RunContext& context, const StageDef& stage,
                         const std::vector<std::pair<std::string, std::string>>& upstream_hashes) const;

  // Runs the stages in order: a complete stage with the same hash is skipped; one in progress with
  // the same hash resumes; anything else (changed options or inputs, changed upstream) reruns.
  std::vector<StageOutcome> run(RunContext& context, const PipelineOptions& options) const;

 private:
  std::vector<StageDef> stages_;
};

// The config and run facts kept in /run of the store (attributes "config", "grlm_version", ...).
void record_run_config(RunContext& context);

}  // namespace grlm
