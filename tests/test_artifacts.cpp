// The contract between stages (stages/artifacts.hpp) and its documentation agree.
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "grlm/core/error.hpp"
#include "grlm/stages/artifacts.hpp"

namespace grlm {
namespace {

std::string architecture_doc() {
  std::ifstream in(std::string(GRLM_TEST_SOURCE_DIR) + "/docs/ARCHITECTURE.md");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(Artifacts, ArchitectureTableListsEveryPublishedPathWithItsWriterAndReaders) {
  const std::string doc = architecture_doc();
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
