// Every config key grlm reads, with its type, default and one line of help. Keys of stages that
// are not built yet are added with those stages. docs/CONFIG.md lists the same keys.
#include "grlm/core/config.hpp"

namespace grlm {

const ConfigSchema& grlm_config_schema() {
  using nlohmann::json;
  static const ConfigSchema schema = {
      {"run_dir", ValueType::String, "run",
       "folder of the run: run store grlm.h5, exported files, metrics", {}},
      {"device", ValueType::String, "auto",
       "compute device per rank: auto (cuda when a GPU is visible), cpu, cuda", {"auto", "cpu", "cuda"}},
      {"seed", ValueType::Integer, 42, "seed of every random choice in the run", {}},
      {"log.level", ValueType::String, "info", "log threshold: debug, info, warn, error",
       {"debug", "info", "warn", "error"}},
      {"log.progress_interval_s", ValueType::Number, 30.0,
       "seconds between progress lines when stderr is not a terminal", {}},
      {"data.catalog", ValueType::String, json(),
       "catalog JSON: item id -> {title, description, categories}", {}},
      {"data.interactions", ValueType::String, json(),
       "interactions text file: 'user_id item_id item_id ...' per line, in time order", {}},
      {"data.tids", ValueType::String, json(),
       "optional item id -> 5-word TID JSON (*_item_id2tid.json); skips embed, similar, extract", {}},
      {"data.neighbours", ValueType::String, json(),
       "optional collaborative neighbours file: header 'anchor top1 ... top20', then one item a line", {}},
      {"embed.model", ValueType::String, json(),
       "Hugging Face Qwen2/Qwen3 checkpoint folder used as text encoder; unset: the built-in TF-IDF embedder", {}},
      {"embed.pooling", ValueType::String, "mean", "mean over the item's tokens (reference) or last (Qwen3-Embedding)",
       {"mean", "last"}},
      {"embed.instruction", ValueType::String, "", "text put before every item text (Qwen3-Embedding: 'Instruct: ...\\nQuery:')", {}},
      {"embed.max_tokens", ValueType::Integer, 512, "tokens of item text kept per item", {}},
      {"embed.batch_tokens", ValueType::Integer, 16384, "tokens per encoder batch (items of similar length batched together)", {}},
      {"embed.dtype", ValueType::String, "auto", "encoder dtype: auto (bfloat16 on cuda, float32 on cpu), float32, bfloat16, float16",
       {"auto", "float32", "bfloat16", "float16"}},
      {"embed.dim", ValueType::Integer, 256, "built-in embedder: vector dimension", {}},
      {"embed.chunk_items", ValueType::Integer, 2048, "items per resumable chunk", {}},
      {"similar.k", ValueType::Integer, 20, "neighbours per item (clamped to items - 1)", {}},
      {"similar.dtype", ValueType::String, "float32", "matrix products in float32 or bfloat16 (scores are float32)",
       {"float32", "bfloat16"}},
      {"similar.json", ValueType::Boolean, false,
       "also write run_dir/similar/similar_items.json: {item_id: [{item_id, similarity}, ...]} (the reference's form)", {}},
      {"sft.tasks", ValueType::StringList, json::array({"term", "sequence", "collaborative"}),
       "instruction tasks to build: term, sequence, collaborative", {}},
      {"sft.window", ValueType::Integer, 20, "items per user in the sequence task (the last N)", {}},
      {"sft.weight.term", ValueType::Number, 1.0, "copies of each term-internalisation sample (fractions sampled)", {}},
      {"sft.weight.sequence", ValueType::Number, 1.0, "copies of each sequence-prediction sample", {}},
      {"sft.weight.collaborative", ValueType::Number, 1.0, "copies of each collaborative-signal sample", {}},
      {"sft.collaborative_top_n", ValueType::Integer, 5, "neighbours listed per collaborative sample", {}},
      {"sft.cf_max_distance", ValueType::Integer, 5,
       "computed neighbours: items at most this far apart in a history co-occur", {}},
      {"sft.prompts", ValueType::String, json(),
       "folder with sequence.txt, term.txt, collaborative.txt instructions (default: built in, as configs/prompts/)", {}},
      {"sft.tokenizer", ValueType::String, json(),
       "Hugging Face tokenizer folder of the model to train; unset: a word-level tokenizer built from the data", {}},
      {"sft.max_seq_len", ValueType::Integer, 1024, "tokens per sample at most (longer ones are truncated and counted)", {}},
  };
  return schema;
}

}  // namespace grlm
