#include <iostream>

#include "commands.hpp"
#include "grlm/core/log.hpp"
#include "grlm/data/synth.hpp"

namespace grlm::cli {

Command synth_command() {
  Command command;
  command.name = "synth";
  command.group = "tool";
  command.summary = "write a synthetic dataset (catalog + interactions) in the spec's formats, deterministic by seed";
  command.usage = "--out DIR [--items N] [--users N] [--seed S] [options]";
  command.options = [] {
    const SynthOptions defaults;
    po::options_description options("Synth options");
    options.add_options()
        ("out,o", po::value<std::string>()->required(), "output folder: catalog.json, interactions.txt, item_truth.json, synth.json")
        ("items", po::value<uint64_t>()->default_value(defaults.items), "number of catalog items")
        ("users", po::value<uint64_t>()->default_value(defaults.users), "number of users (interaction lines)")
        ("seed", po::value<uint64_t>()->default_value(defaults.seed), "seed: the same seed writes the same bytes")
        ("min-history", po::value<uint32_t>()->default_value(defaults.min_history), "fewest items per user")
        ("max-history", po::value<uint32_t>()->default_value(defaults.max_history), "most items per user")
        ("mean-history", po::value<double>()->default_value(defaults.mean_history), "mean items per user")
        ("complement-rate", po::value<double>()->default_value(defaults.complement_rate),
         "chance that the next item complements the last one (shampoo -> conditioner)")
        ("brand-loyalty", po::value<double>()->default_value(defaults.brand_loyalty),
         "chance that the next item keeps the last item's brand")
        ("drift-rate", po::value<double>()->default_value(defaults.drift_rate),
         "chance per step that a user's interests move to another department");
    return options;
  };
  command.run = [](Runtime& runtime, const po::variables_map& values) {
    SynthOptions options;
    options.items = values["items"].as<uint64_t>();
    options.users = values["users"].as<uint64_t>();
    options.seed = values["seed"].as<uint64_t>();
    options.min_history = values["min-history"].as<uint32_t>();
    options.max_history = values["max-history"].as<uint32_t>();
    options.mean_history = values["mean-history"].as<double>();
    options.complement_rate = values["complement-rate"].as<double>();
    options.brand_loyalty = values["brand-loyalty"].as<double>();
    options.drift_rate = values["drift-rate"].as<double>();
    // One writer: the files are small next to what the pipeline does with them.
    if (runtime.is_root()) {
      const SynthSummary summary = write_synthetic_dataset(values["out"].as<std::string>(), options);
      log::info("synth: ", summary.items, " items (", summary.product_types, " product types, ", summary.brands,
                " brands), ", summary.users, " users, ", summary.interactions, " interactions");
      log::info("synth: wrote ", summary.catalog_file.string(), " and ", summary.interactions_file.string());
    }
    runtime.world().barrier();
    return 0;
  };
  return command;
}

}  // namespace grlm::cli
