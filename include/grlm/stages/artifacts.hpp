// What the stages hand each other, in one place: every store path and attribute a stage publishes
// for another, every file a stage writes into run_dir, and the helpers more than one stage uses.
// A stage reads another's output only through this header (docs/ARCHITECTURE.md's stage table is
// tested against kPublished).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "grlm/core/config.hpp"
#include "grlm/data/dataset.hpp"

namespace grlm {

class RunStore;

namespace artifacts {

// --- the run store: datasets and attributes published for other stages
inline constexpr const char* kEmbedVectors = "/embed/vectors";        // float32 [items, dim], L2-normalised
inline constexpr const char* kEmbedItemIds = "/embed/item_ids";       // strings [items]
inline constexpr const char* kSimilarIds = "/similar/ids";            // int64 [items, k], rows of kEmbedVectors
inline constexpr const char* kSimilarScores = "/similar/scores";      // float32 [items, k]
inline constexpr const char* kExtractItemIds = "/extract/item_ids";   // strings [items], catalog order
inline constexpr const char* kExtractTids = "/extract/tids";          // strings [items], "[w1, ..., w5]" ("" invalid)
inline constexpr const char* kSftGroup = "/build-sft";                // token_ids, loss_mask, sample_offsets, task_id
inline constexpr const char* kSftTokenizerAttribute = "tokenizer";    // on kSftGroup: the tokenizer.json samples use

// One published dataset or attribute: its path, the stage writing it, the stages reading it.
struct Published {
  const char* path;
  const char* writer;
  std::vector<const char*> readers;
};
const std::vector<Published>& published();

// --- files in run_dir
std::filesystem::path run_dir(const Config& config);
std::filesystem::path similar_json_file(const Config& config);     // similar/similar_items.json (similar.json)
std::filesystem::path extract_dir(const Config& config);           // extract/: report.json, item_id2tid.json, tid2item_id.json
std::filesystem::path extracted_tids_file(const Config& config);   // extract/item_id2tid.json (an export for users)
std::filesystem::path sft_dir(const Config& config);               // sft/: LlamaFactory JSON, tokenizer.json, neighbours.txt
std::filesystem::path train_dir(const Config& config);             // train/: curve.{csv,json}, exports/step-N
std::filesystem::path trained_model_folder(const Config& config);  // model/: the exported checkpoint
std::filesystem::path evaluate_dir(const Config& config);          // evaluate/: records.jsonl, chunks/
std::filesystem::path metrics_file(const Config& config);          // metrics.json

// --- helpers more than one stage uses
// A task's instruction: sft.prompts/<task>.txt, or the built-in text (configs/prompts/).
std::string sft_instruction(const Config& config, const std::string& task);
// The dataset with its TIDs: data.tids when set, else extract's (read from the store, checked by
// the TID file's rules; collective). build-sft, evaluate and recommend see the same items,
// TIDs and samples.
const Dataset& dataset_with_tids(const Config& config, RunStore& store);

}  // namespace artifacts
}  // namespace grlm
