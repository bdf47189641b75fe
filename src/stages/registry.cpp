#include "grlm/stages/stages.hpp"

namespace grlm {
namespace {

// Given TIDs (data.tids) replace the first three stages.
bool needs_tid_extraction(const Config& config) { return !config.has("data.tids"); }

// The keys of `group` that change the stage's result (the schema's Effect::Result), and `also`.
std::vector<std::string> hashed_keys(const std::string& group, std::vector<std::string> also = {}) {
  std::vector<std::string> keys = result_keys(grlm_config_schema(), group);
  keys.insert(keys.end(), also.begin(), also.end());
  return keys;
}

}  // namespace

Pipeline grlm_pipeline() {
  return Pipeline({
      {"embed", "embed every catalog item's text into an L2-normalised vector", {}, hashed_keys("embed", {"seed"}),
       {"data.catalog", "embed.model"}, 1, needs_tid_extraction, run_embed},
      {"similar", "exact top-k most similar items by cosine similarity", {"embed"}, hashed_keys("similar"), {}, 1,
       needs_tid_extraction, run_similar, /*resumes=*/false},
      {"extract", "five-word Term IDs per item from an LLM (or the built-in extractor)", {"similar"},
       hashed_keys("extract", {"seed"}), {"data.catalog", "extract.model", "extract.prompt"}, 1, needs_tid_extraction, run_extract},
      {"build-sft", "the three instruction tasks, tokenized for training", {"extract"}, hashed_keys("sft", {"seed"}),
       // format 2: the word-level tokenizer's phrase tokens ("Item text ID:", "Title: None.")
       {"data.catalog", "data.interactions", "data.tids", "data.neighbours", "sft.prompts", "sft.tokenizer"}, 2,
       [](const Config&) { return true; }, run_build_sft, /*resumes=*/false},
      {"train", "full-parameter fine-tuning (ZeRO-1/2 over NCCL or MPI)", {"build-sft"},
       // Options that change the trained weights (the schema's Effect::Result); the others
       // (checkpoint cadence, logging, bucket size, ZeRO stage, recomputation) change how, so
       // changing them resumes instead of retraining.
       hashed_keys("train"), {"train.model"}, 1,
       [](const Config&) { return true; }, run_train, /*resumes=*/true, check_train_config},
      {"evaluate", "beam search, grounding, Recall@K and NDCG@K", {"train", "build-sft"}, hashed_keys("evaluate"), {"evaluate.model"}, 1,
       [](const Config&) { return true; }, run_evaluate, /*resumes=*/true, check_evaluate_config},
  });
}

}  // namespace grlm
