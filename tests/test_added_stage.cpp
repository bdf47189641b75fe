// A stage added the way docs/ARCHITECTURE.md ("Adding a stage") says: its own entry point, one
// StageDef in the pipeline, its keys in the schema, and nothing else touched. The toy stage
// "norms" reads embed's published vectors (artifacts::kEmbedVectors) and writes each item's
// scaled vector norm in resumable chunks; it is then skipped and recomputed like a real
// stage, at any number of ranks.
#include <gtest/gtest.h>

#include <cmath>

#include "grlm/core/chunked_work.hpp"
#include "grlm/core/comm.hpp"
#include "grlm/data/synth.hpp"
#include "grlm/stages/artifacts.hpp"
#include "grlm/stages/stages.hpp"
#include "test_support.hpp"

namespace grlm {
namespace {

// --- what the new stage's author writes: the schema keys, the entry point, the StageDef
const ConfigSchema& schema_with_norms() {
  static const ConfigSchema schema = [] {
    ConfigSchema keys = grlm_config_schema();
    keys.push_back({"norms.scale", ValueType::Number, 1.0, "factor applied to every norm", {}, {0}});
    keys.push_back({"norms.chunk_items", ValueType::Integer, 64, "items per resumable chunk", {}, {1}, Effect::HowOnly});
    return keys;
  }();
  return schema;
}

constexpr const char* kNorms = "/norms/values";  // float64 [items]

void run_norms(RunContext& context, const StageRun& run) {
  RunStore& store = context.store;
  const std::vector<uint64_t> shape = store.dims(artifacts::kEmbedVectors);
  const std::vector<float> vectors = store.read_all<float>(artifacts::kEmbedVectors);
  const double scale = context.config.get_number("norms.scale");
  if (!store.exists(kNorms)) store.create_dataset(kNorms, {shape[0]}, DType::Float64);
  ChunkedWork work(context.runtime, store, run.name, shape[0], static_cast<uint64_t>(context.config.get_int("norms.chunk_items")));
  work.run(Dealing::round_robin(), {"norms", "items", 30}, [&](const std::optional<WorkChunk>& chunk) {
    std::vector<double> norms;
    for (uint64_t item = chunk ? chunk->first : 0; chunk && item < chunk->first + chunk->count; ++item) {
      double squares = 0;
      for (uint64_t d = 0; d < shape[1]; ++d) squares += std::pow(vectors[item * shape[1] + d], 2);
      norms.push_back(scale * std::sqrt(squares));
    }
    store.write_rows(kNorms, chunk ? chunk->first : 0, norms.size(), norms.data());
  });
}

// The registry's list with the new stage after embed (in src/stages/registry.cpp it is one line).
Pipeline pipeline_with_norms() {
  std::vector<StageDef> stages = grlm_pipeline().stages();
  const StageDef norms{"norms", "scaled norm of each item's vector", {"embed"}, result_keys(schema_with_norms(), "norms"),
                       {}, 1, [](const Config&) { return true; }, run_norms};
  stages.insert(stages.begin() + 1, norms);
  return Pipeline(stages);
}

// --- the test
struct Outcome {
  std::vector<std::string> actions;
  std::vector<double> norms;
};

Outcome run_until_norms(const std::filesystem::path& dir, const std::vector<std::string>& overrides) {
  std::vector<std::string> all = {"run_dir=" + (dir / "run").string(), "data.catalog=" + (dir / "data/catalog.json").string(),
                                  "data.interactions=" + (dir / "data/interactions.txt").string()};
  all.insert(all.end(), overrides.begin(), overrides.end());
  const Config config = Config::load(schema_with_norms(), std::nullopt, all);
  RunStore store(test::runtime(), dir / "run");
  RunContext context{config, test::runtime(), store, Device{}};
  PipelineOptions options;
  options.until = "norms";
  Outcome outcome;
  for (const StageOutcome& stage : pipeline_with_norms().run(context, options)) {
    outcome.actions.push_back(stage.name + ":" + stage_action_name(stage.action));
  }
  outcome.norms = store.read_all<double>(kNorms);
  return outcome;
}

TEST(AddedStage, RunsAfterItsUpstreamAndIsSkippedAndRecomputedLikeTheOthers) {
  const auto dir = test::scratch_dir("added-stage");
  if (test::runtime().is_root()) {
    SynthOptions synth;
    synth.items = 300;
    synth.users = 200;
    write_synthetic_dataset(dir / "data", synth);
  }
  test::runtime().world().barrier();

  const Outcome first = run_until_norms(dir, {});
  EXPECT_EQ(first.actions, (std::vector<std::string>{"embed:ran", "norms:ran"}));
  ASSERT_EQ(first.norms.size(), 300u);
  for (double norm : first.norms) EXPECT_NEAR(norm, 1.0, 1e-5);  // embed's vectors are L2-normalised

  EXPECT_EQ(run_until_norms(dir, {}).actions, (std::vector<std::string>{"embed:skipped (complete)", "norms:skipped (complete)"}));
  // A key that changes how, not what (Effect::HowOnly), is not in the stage's hash.
  EXPECT_EQ(run_until_norms(dir, {"norms.chunk_items=7"}).actions,
            (std::vector<std::string>{"embed:skipped (complete)", "norms:skipped (complete)"}));
  const Outcome scaled = run_until_norms(dir, {"norms.scale=2"});
  EXPECT_EQ(scaled.actions, (std::vector<std::string>{"embed:skipped (complete)", "norms:ran"}));
  for (double norm : scaled.norms) EXPECT_NEAR(norm, 2.0, 1e-5);
  // An upstream change reruns the new stage too.
  EXPECT_EQ(run_until_norms(dir, {"norms.scale=2", "embed.dim=32"}).actions, (std::vector<std::string>{"embed:ran", "norms:ran"}));
  // The seed draws the built-in embedder's projection: it is part of embed's result.
  EXPECT_EQ(run_until_norms(dir, {"norms.scale=2", "embed.dim=32", "seed=7"}).actions,
            (std::vector<std::string>{"embed:ran", "norms:ran"}));
}

}  // namespace
}  // namespace grlm
