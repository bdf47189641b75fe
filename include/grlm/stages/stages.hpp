// The GRLM pipeline's stages, one entry point each (src/stages/<stage>.cpp), and their order.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "grlm/core/pipeline.hpp"
#include "grlm/data/dataset.hpp"

namespace grlm {

void run_embed(RunContext& context, const StageRun& run);
void run_similar(RunContext& context, const StageRun& run);
void run_extract(RunContext& context, const StageRun& run);
void run_build_sft(RunContext& context, const StageRun& run);
void run_train(RunContext& context, const StageRun& run);
void run_evaluate(RunContext& context, const StageRun& run);

// The stages' rules between config keys (StageDef::check), checked before any stage runs.
void check_train_config(const Config& config, int world_size);
void check_evaluate_config(const Config& config, int world_size);

// What stages hand each other (store paths, run_dir files, shared helpers): artifacts.hpp.

// `grlm similar --vectors FILE.h5:/DATASET --k K --output OUT.h5`: the stage's search on a user's
// vectors; OUT.h5 gets "ids" (int64, 0-based rows, N x K) and "scores" (float32, N x K).
struct SimilarStandaloneOptions {
  std::string vectors;
  int64_t k = 20;
  std::string output;
  std::string dtype = "float32";
  std::string device = "auto";  // auto | cpu | cuda (one GPU per rank, NCCL ring)
};
int run_similar_standalone(Runtime& runtime, const SimilarStandaloneOptions& options);

// `grlm recommend`: the top-K items for the histories in `input` (the interactions format, or
// JSON Lines {"user_id", "item_ids"}) from the run `config` describes (its model, tokenizer,
// prompts and TIDs, decoding options evaluate.*), written to `output` (.jsonl in input order, or
// .h5 with user_ids, item_ids [U, K], tids [U, K], scores [U, K]). Resumable by chunk through
// OUTPUT.partial.h5.
struct RecommendRequestOptions {
  std::string input;
  std::string output;
  int64_t k = 10;
  std::string unknown = "skip";  // items not in the run: skip (reported) | error
  int64_t chunk_users = 64;
};
int run_recommend(Runtime& runtime, const Config& config, const Device& device, const RecommendRequestOptions& options);

// embed -> similar -> extract -> build-sft -> train -> evaluate, with what each depends on.
Pipeline grlm_pipeline();

}  // namespace grlm
