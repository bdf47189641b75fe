#include "toy_pipeline.hpp"

#include "grlm/core/chunked_work.hpp"

namespace grlm::test {

constexpr uint64_t kValuesPerChunk = 1000;

const ConfigSchema& toy_schema() {
  static const ConfigSchema schema = {
      {"run_dir", ValueType::String, "run", "run folder", {}},
      {"alpha.scale", ValueType::Number, 1.0, "scale of alpha's values", {}},
      {"alpha.chunks", ValueType::Integer, 8, "chunks of alpha's work", {}},
      {"beta.offset", ValueType::Number, 0.0, "added to beta's sum", {}},
      {"gamma.enabled", ValueType::Boolean, false, "whether gamma runs", {}},
      {"alpha.inputs", ValueType::String, nlohmann::json(), "a file or folder alpha reads", {}},
  };
  return schema;
}

Pipeline toy_pipeline(ToyCounters& counters) {
  StageDef alpha{"alpha", "chunked values", {}, {"alpha"}, {"alpha.inputs"}, 1, [](const Config&) { return true; },
                 [&counters](RunContext& context, const StageRun& run) {
                   ++counters.alpha_runs;
                   const uint64_t chunks = static_cast<uint64_t>(context.config.get_int("alpha.chunks"));
                   const double scale = context.config.get_number("alpha.scale");
                   RunStore& store = context.store;
                   if (!store.exists("/alpha/values")) {
                     store.create_dataset("/alpha/values", {chunks * kValuesPerChunk}, DType::Float64);
                   }
                   ChunkedWork work(context.runtime, store, run.name, chunks * kValuesPerChunk, kValuesPerChunk);
                   if (counters.after_commit) work.after_each_commit(counters.after_commit);
                   // Round r: every rank takes its next pending chunk, then one collective write + commit.
                   work.run(Dealing::round_robin(), {"alpha", "values", 1.0}, [&](const std::optional<WorkChunk>& chunk) {
                     std::vector<double> values;
                     if (chunk) {
                       for (uint64_t i = chunk->first; i < chunk->first + chunk->count; ++i) values.push_back(static_cast<double>(i) * scale);
                       counters.chunks_computed.push_back(chunk->index);
                     }
                     store.write_rows("/alpha/values", chunk ? chunk->first : 0, values.size(), values.data(), DType::Float64);
                   });
                 }};
  StageDef beta{"beta", "sum of alpha", {"alpha"}, {"beta"}, {}, 1, [](const Config&) { return true; },
                [&counters](RunContext& context, const StageRun&) {
                  ++counters.beta_runs;
                  const std::vector<double> values = context.store.read_all<double>("/alpha/values");
                  double sum = context.config.get_number("beta.offset");
                  for (double value : values) sum += value;
                  context.store.create_dataset("/beta/sum", {1}, DType::Float64);
                  context.store.write_rows("/beta/sum", 0, context.store.rank() == 0 ? 1 : 0, &sum, DType::Float64);
                  if (counters.after_beta_write) counters.after_beta_write();
                }};
  beta.resumes = false;  // one dataset written at the end: an interrupted beta starts over
  StageDef gamma{"gamma", "optional", {"beta"}, {"gamma"}, {}, 1,
                 [](const Config& config) { return config.get_bool("gamma.enabled"); },
                 [](RunContext& context, const StageRun&) {
                   context.store.create_dataset("/gamma/flag", {1}, DType::Int32);
                   const int32_t one = 1;
                   context.store.write_rows("/gamma/flag", 0, context.store.rank() == 0 ? 1 : 0, &one, DType::Int32);
                 }};
  return Pipeline({alpha, beta, gamma});
}

}  // namespace grlm::test
