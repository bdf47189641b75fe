#include <filesystem>
#include <iomanip>
#include <iostream>

#include "commands.hpp"
#include "grlm/core/error.hpp"
#include "grlm/core/store.hpp"

namespace grlm::cli {
namespace {

std::string shape_text(const nlohmann::json& shape) {
  std::string text;
  for (const auto& dim : shape) text += (text.empty() ? "" : " x ") + std::to_string(dim.get<uint64_t>());
  return text.empty() ? "scalar" : text;
}

void print_table(const nlohmann::json& description) {
  std::cout << "run store " << description["file"].get<std::string>() << "\n\nstages:\n";
  if (description["stages"].empty()) std::cout << "  (none yet)\n";
  for (const auto& stage : description["stages"]) {
    std::cout << "  " << std::left << std::setw(12) << stage["name"].get<std::string>() << std::setw(12)
              << stage["status"].get<std::string>() << "hash " << stage["stage_hash"].get<std::string>().substr(0, 16);
    const auto& record = stage["record"];
    if (!record.is_null()) {
      std::cout << "  config " << record.value("config_hash", "").substr(0, 16) << "  ranks "
                << record.value("world_size", 0) << "  " << record.value("completed_at", "") << "  "
                << std::fixed << std::setprecision(2) << record.value("seconds", 0.0) << " s";
      if (record.contains("upstream") && !record["upstream"].empty()) {
        std::cout << "  after";
        for (const auto& [name, hash] : record["upstream"].items()) {
          std::cout << " " << name << ":" << hash.get<std::string>().substr(0, 8);
        }
      }
    }
    std::cout << "\n";
  }
  std::cout << "\ndatasets:\n";
  for (const auto& dataset : description["datasets"]) {
    std::cout << "  " << std::left << std::setw(40) << dataset["path"].get<std::string>() << std::setw(10)
              << dataset["type"].get<std::string>() << shape_text(dataset["shape"]) << "\n";
  }
}

// One line per stage; throws when a dataset changed since its stage completed.
void print_verification(const nlohmann::json& report, bool as_json) {
  std::vector<std::string> changed_stages;
  if (as_json) std::cout << report.dump(2) << "\n";
  for (const auto& stage : report["stages"]) {
    const std::string name = stage["name"].get<std::string>();
    if (!as_json) std::cout << "  " << std::left << std::setw(12) << name;
    if (stage["verified"].is_null()) {
      if (!as_json) {
        std::cout << (stage["status"] == "complete" ? "no checksums recorded (completed by an earlier grlm)" : "not complete")
                  << "\n";
      }
      continue;
    }
    if (stage["verified"].get<bool>()) {
      if (!as_json) std::cout << "verified (" << stage["datasets"].get<size_t>() << " datasets)\n";
      continue;
    }
    changed_stages.push_back(name);
    if (!as_json) {
      std::cout << "CHANGED since it completed:";
      for (const auto& change : stage["changed"]) {
        std::cout << " " << change["dataset"].get<std::string>() << " (" << change["problem"].get<std::string>() << ")";
      }
      std::cout << "\n";
    }
  }
  if (!changed_stages.empty()) {
    throw InputError(cat("run store ", report["file"].get<std::string>(), ": stage ", changed_stages.front(),
                         "'s datasets changed after it completed (damage on disk?); rerun it and what follows with "
                         "'grlm run --from ", changed_stages.front(), "'"));
  }
}

}  // namespace

Command inspect_command() {
  Command command;
  command.name = "inspect";
  command.group = "tool";
  command.summary = "list a run store's stages (status, hashes, completion records) and datasets with shapes";
  command.usage = "RUN_DIR | FILE.h5 [--json] [--verify]";
  command.options = [] {
    po::options_description options("Inspect options");
    options.add_options()
        ("run", po::value<std::string>()->required(), "run folder (holding grlm.h5) or the .h5 file itself")
        ("json", po::bool_switch(), "print the description as JSON")
        ("verify", po::bool_switch(),
         "checksum each complete stage's datasets again and compare with its completion record (exit 1 on a change)");
    return options;
  };
  command.positional.add("run", 1);
  command.run = [](Runtime& runtime, const po::variables_map& values) {
    std::filesystem::path path = values["run"].as<std::string>();
    if (std::filesystem::is_directory(path)) path /= RunStore::kFileName;
    if (!std::filesystem::exists(path)) throw UsageError(cat("grlm inspect: no run store at ", path.string()));
    if (runtime.is_root() && values["verify"].as<bool>()) {
      if (!values["json"].as<bool>()) std::cout << "verifying " << path.string() << ":\n";
      print_verification(verify_store(path), values["json"].as<bool>());
    } else if (runtime.is_root()) {
      const nlohmann::json description = describe_store(path);
      if (values["json"].as<bool>()) {
        std::cout << description.dump(2) << "\n";
      } else {
        print_table(description);
      }
    }
    return 0;
  };
  return command;
}

}  // namespace grlm::cli
