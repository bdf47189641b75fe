// The contract between stages (stages/artifacts.hpp) and its documentation agree.
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <gtest/gtest.h>

#include "grlm/core/error.hpp"
#include "grlm/stages/artifacts.hpp"

namespace grlm {
namespace {

std::string doc_text(const std::string& name) {
  std::ifstream in(std::string(GRLM_TEST_SOURCE_DIR) + "/docs/" + name);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(Artifacts, ArchitectureTableListsEveryPublishedPathWithItsWriterAndReaders) {
  const std::string doc = doc_text("ARCHITECTURE.md");
  ASSERT_FALSE(doc.empty());
  size_t rows = 0;
  for (const artifacts::Published& item : artifacts::published()) {
    std::vector<std::string> readers(item.readers.begin(), item.readers.end());
    const std::string row = cat("| `", item.path, "` | ", item.writer, " | ", join(readers, ", "), " |");
    EXPECT_NE(doc.find(row), std::string::npos) << "docs/ARCHITECTURE.md lacks the row " << row;
    ++rows;
  }
  // And no row the code does not publish.
  size_t documented = 0;
  for (size_t at = doc.find("| `/"); at != std::string::npos; at = doc.find("| `/", at + 1)) {
    if (at == 0 || doc[at - 1] == '\n') ++documented;
  }
  EXPECT_EQ(documented, rows) << "docs/ARCHITECTURE.md's published table has rows the code does not list";
}

// docs/CONFIG.md is written by hand (its meanings say more than the one-line help): every schema
// key has its row, every row is a schema key, and the defaults agree.
TEST(ConfigDoc, EveryKeyOfTheSchemaHasItsRowWithItsDefault) {
  const std::string doc = doc_text("CONFIG.md");
  ASSERT_FALSE(doc.empty());
  // key -> its default as the row shows it. A row may hold several keys (`a.b`, `.c` meaning
  // `a.c`), with one default for all or one per key (", "-separated).
  std::map<std::string, std::string> documented;
  std::istringstream lines(doc);
  for (std::string line; std::getline(lines, line);) {
    if (!line.starts_with("| `")) continue;
    std::vector<std::string> cells;
    for (size_t at = 0; (at = line.find(" | ", at)) != std::string::npos; at += 3) cells.push_back(line.substr(at + 3));
    ASSERT_GE(cells.size(), 3u) << line;
    const std::string key_cell = line.substr(2, line.find(" | ") - 2);
    std::vector<std::string> keys;
    for (size_t at = key_cell.find('`'); at != std::string::npos; at = key_cell.find('`', key_cell.find('`', at + 1) + 1)) {
      const std::string name = key_cell.substr(at + 1, key_cell.find('`', at + 1) - at - 1);
      keys.push_back(name.starts_with(".") && !keys.empty() ? keys.back().substr(0, keys.back().rfind('.')) + name : name);
    }
    const std::string shown_all = cells[1].substr(0, cells[1].find(" | "));
    std::vector<std::string> defaults;
    if (keys.size() > 1 && !shown_all.starts_with("[")) {
      for (size_t start = 0;;) {
        const size_t comma = shown_all.find(", ", start);
        defaults.push_back(shown_all.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
        if (comma == std::string::npos) break;
        start = comma + 2;
      }
    }
    for (size_t k = 0; k < keys.size(); ++k) {
      documented[keys[k]] = defaults.size() == keys.size() ? defaults[k] : shown_all;
    }
  }
  for (const ConfigKey& key : grlm_config_schema()) {
    const auto row = documented.find(key.path);
    if (row == documented.end()) {
      ADD_FAILURE() << "docs/CONFIG.md has no row for " << key.path;
      continue;
    }
    std::string shown = row->second;
    std::erase(shown, '`');
    if (key.default_value.is_null()) {
      EXPECT_TRUE(shown.starts_with("—")) << key.path << ": documented default " << row->second << ", schema has none";
    } else if (key.default_value.is_string()) {
      const std::string value = key.default_value.get<std::string>();
      EXPECT_EQ(shown, value.empty() ? "\"\"" : value) << key.path;
    } else if (key.default_value.is_number()) {
      EXPECT_DOUBLE_EQ(std::stod(shown), key.default_value.get<double>()) << key.path << ": documented " << row->second;
    } else {  // booleans, lists: as JSON, spaces aside
      std::erase(shown, ' ');
      EXPECT_EQ(shown, key.default_value.dump()) << key.path;
    }
    documented.erase(row);
  }
  for (const auto& [key, shown] : documented) ADD_FAILURE() << "docs/CONFIG.md documents " << key << ", which the schema lacks";
}

// The train stage's hash covers the schema's Effect::Result keys of train.*: the same set as
// before the schema held the flag, so runs made then keep their stage hashes.
TEST(ConfigSchema, TrainResultKeysAreTheWeightChangingOptions) {
  const std::vector<std::string> keys = result_keys(grlm_config_schema(), "train");
  const std::set<std::string> got(keys.begin(), keys.end());
  const std::set<std::string> expected = {
      "train.model", "train.arch.hidden_size", "train.arch.layers", "train.arch.heads", "train.arch.kv_heads",
      "train.arch.intermediate_size", "train.arch.head_dim", "train.global_batch_size", "train.micro_batch_size",
      "train.epochs", "train.max_steps", "train.lr", "train.warmup_ratio", "train.weight_decay", "train.adam_beta1",
      "train.adam_beta2", "train.adam_epsilon", "train.max_grad_norm", "train.seed", "train.dtype", "train.val_fraction"};
  EXPECT_EQ(got, expected);
}

TEST(Artifacts, RunDirFilesAreUnderRunDir) {
  const Config config = Config::load(grlm_config_schema(), std::nullopt, {"run_dir=/tmp/some-run"});
  for (const auto& file : {artifacts::similar_json_file(config), artifacts::extracted_tids_file(config), artifacts::sft_dir(config),
                           artifacts::train_dir(config), artifacts::trained_model_folder(config), artifacts::evaluate_dir(config),
                           artifacts::metrics_file(config)}) {
    EXPECT_EQ(file.string().rfind("/tmp/some-run/", 0), 0u) << file;
  }
}

}  // namespace
}  // namespace grlm
