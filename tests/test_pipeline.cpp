// The pipeline driver over the real store at any number of ranks: complete stages are skipped,
// a changed option reruns its stage and everything downstream, --from and single-stage runs.
#include <gtest/gtest.h>

#include <chrono>

#include "grlm/core/error.hpp"
#include "grlm/core/hash.hpp"
#include "test_support.hpp"
#include "toy_pipeline.hpp"

namespace grlm {
namespace {

using test::ToyCounters;

struct ToyRun {
  std::vector<StageOutcome> outcomes;
  ToyCounters counters;
  double beta_sum = 0;
};

ToyRun run_toy(const std::filesystem::path& dir, const std::vector<std::string>& overrides,
               const PipelineOptions& options = {}, std::function<void()> after_beta_write = {}) {
  std::vector<std::string> all = {"run_dir=" + dir.string()};
  all.insert(all.end(), overrides.begin(), overrides.end());
  const Config config = Config::load(test::toy_schema(), std::nullopt, all);
  RunStore store(test::runtime(), dir);
  RunContext context{config, test::runtime(), store, Device{}};
  ToyRun run;
  run.counters.after_beta_write = std::move(after_beta_write);
  run.outcomes = test::toy_pipeline(run.counters).run(context, options);
  if (store.exists("/beta/sum")) run.beta_sum = store.read_all<double>("/beta/sum")[0];
  return run;
}

std::vector<std::string> actions(const ToyRun& run) {
  std::vector<std::string> list;
  for (const StageOutcome& outcome : run.outcomes) list.push_back(outcome.name + ":" + stage_action_name(outcome.action));
  return list;
}

TEST(Pipeline, FirstRunComputesEverythingAndARerunSkipsIt) {
  const auto dir = test::scratch_dir("pipeline-skip");
  const ToyRun first = run_toy(dir, {});
  EXPECT_EQ(actions(first), (std::vector<std::string>{"alpha:ran", "beta:ran", "gamma:disabled by config"}));
  // sum of 0 .. 7999
  EXPECT_EQ(first.beta_sum, 7999.0 * 8000.0 / 2.0);
  const ToyRun second = run_toy(dir, {});
  EXPECT_EQ(actions(second), (std::vector<std::string>{"alpha:skipped (complete)", "beta:skipped (complete)",
                                                        "gamma:disabled by config"}));
  EXPECT_EQ(second.counters.alpha_runs + second.counters.beta_runs, 0);
}

TEST(Pipeline, InterruptedStageThatDoesNotResumeStartsOverFromAnEmptyGroup) {
  const auto dir = test::scratch_dir("pipeline-restart");
  // beta interrupted after writing its dataset: left in progress under the same hash.
  struct Interrupted {};
  EXPECT_THROW(run_toy(dir, {}, {}, [] { throw Interrupted{}; }), Interrupted);
  {
    RunStore store(test::runtime(), dir);
    ASSERT_EQ(store.stage_status("beta").state, StageState::InProgress);
    ASSERT_TRUE(store.exists("/beta/sum"));
  }
  const ToyRun rerun = run_toy(dir, {});
  EXPECT_EQ(actions(rerun), (std::vector<std::string>{"alpha:skipped (complete)", "beta:ran", "gamma:disabled by config"}));
  EXPECT_EQ(rerun.counters.beta_runs, 1);
  EXPECT_EQ(rerun.beta_sum, 7999.0 * 8000.0 / 2.0);
}

TEST(Pipeline, ChangedDownstreamOptionRerunsOnlyDownstream) {
  const auto dir = test::scratch_dir("pipeline-downstream");
  run_toy(dir, {});
  const ToyRun changed = run_toy(dir, {"beta.offset=5"});
  EXPECT_EQ(actions(changed)[0], "alpha:skipped (complete)");
  EXPECT_EQ(actions(changed)[1], "beta:ran");
  EXPECT_EQ(changed.beta_sum, 7999.0 * 8000.0 / 2.0 + 5);
}

TEST(Pipeline, ChangedUpstreamOptionInvalidatesEverythingAfterIt) {
  const auto dir = test::scratch_dir("pipeline-upstream");
  run_toy(dir, {});
  const ToyRun changed = run_toy(dir, {"alpha.scale=2"});
  EXPECT_EQ(actions(changed)[0], "alpha:ran");
  EXPECT_EQ(actions(changed)[1], "beta:ran");
  EXPECT_EQ(changed.beta_sum, 7999.0 * 8000.0);
  // Back to the first option: recomputed again (the store keeps one result per stage).
  EXPECT_EQ(actions(run_toy(dir, {}))[0], "alpha:ran");
}

// Rank 0 writes, the others wait: every rank then hashes the same bytes.
void write_on_root(const std::filesystem::path& file, const std::string& text) {
  if (test::runtime().is_root()) test::write_text(file, text);
  test::runtime().world().barrier();
}

TEST(Pipeline, EditedFileInAnInputFolderRerunsTheStage) {
  const auto dir = test::scratch_dir("pipeline-input-folder");
  const auto prompts = dir / "prompts";
  if (test::runtime().is_root()) std::filesystem::create_directories(prompts);
  write_on_root(prompts / "sequence.txt", "Predict the next items.");
  const std::string inputs = "alpha.inputs=" + prompts.string();
  EXPECT_EQ(actions(run_toy(dir, {inputs}))[0], "alpha:ran");
  EXPECT_EQ(actions(run_toy(dir, {inputs}))[0], "alpha:skipped (complete)");
  write_on_root(prompts / "sequence.txt", "Predict the next item.");  // same path, new content
  EXPECT_EQ(actions(run_toy(dir, {inputs}))[0], "alpha:ran");
  write_on_root(prompts / "term.txt", "Write the text ID.");  // a file more
  EXPECT_EQ(actions(run_toy(dir, {inputs}))[0], "alpha:ran");
  EXPECT_EQ(actions(run_toy(dir, {inputs}))[0], "alpha:skipped (complete)");
}

TEST(Pipeline, MissingInputPathNamesItsConfigKey) {
  const auto dir = test::scratch_dir("pipeline-input-missing");
  try {
    run_toy(dir, {"alpha.inputs=" + (dir / "no-such-prompts").string()});
    FAIL() << "expected an error";
  } catch (const InputError& error) {
    EXPECT_NE(std::string(error.what()).find("alpha.inputs: cannot read"), std::string::npos) << error.what();
  }
}

TEST(Pipeline, LargeFilesOfAnInputFolderCountBySizeAndTime) {
  const auto dir = test::scratch_dir("pipeline-input-large");
  const auto folder = dir / "checkpoint";
  if (test::runtime().is_root()) std::filesystem::create_directories(folder);
  write_on_root(folder / "config.json", "{}");
  write_on_root(folder / "model.safetensors", "0123456789");
  EXPECT_EQ(hash_path(folder / "config.json"), hash_file(folder / "config.json"));
  const uintmax_t limit = 4;  // model.safetensors is "large"
  const std::string before = hash_path(folder, limit);
  EXPECT_NE(before, hash_path(folder));  // content instead of size and time
  const auto written = std::filesystem::last_write_time(folder / "model.safetensors");
  test::runtime().world().barrier();  // every rank has hashed the first version
  write_on_root(folder / "model.safetensors", "9876543210");  // same size; the time put back below
  if (test::runtime().is_root()) std::filesystem::last_write_time(folder / "model.safetensors", written);
  test::runtime().world().barrier();
  EXPECT_EQ(hash_path(folder, limit), before);
  test::runtime().world().barrier();
  if (test::runtime().is_root()) {
    std::filesystem::last_write_time(folder / "model.safetensors", written + std::chrono::seconds(1));
  }
  test::runtime().world().barrier();
  EXPECT_NE(hash_path(folder, limit), before);
}

TEST(Pipeline, EnablingAStageRunsItAloneAfterCompleteUpstream) {
  const auto dir = test::scratch_dir("pipeline-enable");
  run_toy(dir, {});
  const ToyRun with_gamma = run_toy(dir, {"gamma.enabled=true"});
  EXPECT_EQ(actions(with_gamma), (std::vector<std::string>{"alpha:skipped (complete)", "beta:skipped (complete)",
                                                            "gamma:ran"}));
}

TEST(Pipeline, FromRecomputesThatStageAndAfter) {
  const auto dir = test::scratch_dir("pipeline-from");
  run_toy(dir, {});
  PipelineOptions options;
  options.from = "beta";
  EXPECT_EQ(actions(run_toy(dir, {}, options)),
            (std::vector<std::string>{"alpha:skipped (complete)", "beta:ran", "gamma:disabled by config"}));
  options.from.reset();
  options.until = "alpha";
  EXPECT_EQ(actions(run_toy(dir, {"alpha.scale=3"}, options)), (std::vector<std::string>{"alpha:ran"}));
}

TEST(Pipeline, SingleStageNeedsCurrentUpstream) {
  const auto dir = test::scratch_dir("pipeline-only");
  PipelineOptions only_beta;
  only_beta.only = "beta";
  try {
    run_toy(dir, {}, only_beta);
    FAIL() << "expected an error";
  } catch (const UsageError& error) {
    EXPECT_NE(std::string(error.what()).find("needs the results of stage alpha, which is absent"), std::string::npos)
        << error.what();
  }
  PipelineOptions only_alpha;
  only_alpha.only = "alpha";
  EXPECT_EQ(actions(run_toy(dir, {}, only_alpha)), (std::vector<std::string>{"alpha:ran"}));
  EXPECT_EQ(actions(run_toy(dir, {}, only_beta)), (std::vector<std::string>{"alpha:skipped (complete)", "beta:ran"}));
}

TEST(Pipeline, UnknownStageNameIsAUsageError) {
  const auto dir = test::scratch_dir("pipeline-unknown");
  PipelineOptions options;
  options.from = "alpah";
  EXPECT_THROW(run_toy(dir, {}, options), UsageError);
}

}  // namespace
}  // namespace grlm
