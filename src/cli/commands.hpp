// The subcommands of `grlm`: each has a name, a one-line summary, its options and an entry point.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <boost/program_options.hpp>

#include "grlm/core/device.hpp"
#include "grlm/core/runtime.hpp"

namespace grlm::cli {

namespace po = boost::program_options;

struct Command {
  std::string name;
  std::string group;    // "pipeline", "stage" or "tool", for `grlm --help`
  std::string summary;  // one line
  std::string usage;    // after "grlm NAME", e.g. "--config FILE [options]"
  std::function<po::options_description()> options;
  std::string details;  // printed after the options in --help (e.g. a stage's config keys)
  po::positional_options_description positional;
  bool accepts_any_options = false;  // tools not built yet take whatever their future options are
  std::function<int(Runtime&, const po::variables_map&)> run;
};

const std::vector<Command>& commands();

// Options shared by `run` and the stage commands (config, overrides, device, log level).
po::options_description config_options();

// Collective: logs the world (ranks per host) on rank 0, then picks this rank's device for the
// config's `device` by its node-local rank and logs it on every rank. A node without a usable GPU
// may be alone in that: its error ends the job from this rank (naming rank and host).
Device rank_device(Runtime& runtime, const std::string& device_setting);

// `grlm synth`, `grlm inspect`, pipeline and stage commands, tools not built yet.
Command synth_command();
Command inspect_command();
Command tokenize_command();
Command merge_domains_command();
Command generate_command();  // built with libtorch only
Command score_command();
Command init_model_command();
Command encode_command();
std::vector<Command> pipeline_commands();
Command recommend_command();

// Parses the command line, runs the command, returns the exit code. UsageError from parsing is
// raised identically on every rank.
int dispatch(Runtime& runtime, int argc, char** argv);

std::string version_text();

}  // namespace grlm::cli
