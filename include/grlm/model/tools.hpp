// `grlm generate` and `grlm score`: the model as a command-line tool over JSON Lines. Declared
// without torch types so the CLI layer compiles without libtorch headers.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "grlm/core/runtime.hpp"

namespace grlm {

// What every model tool takes: the checkpoint, JSON Lines in and out, where and how to run it.
struct ModelToolFiles {
  std::string model;   // Hugging Face checkpoint folder
  std::string input;   // JSON Lines
  std::string output;  // JSON Lines, one line per input line; "-" is stdout
  std::string device = "auto";
  std::string dtype;  // empty: the checkpoint's
  int threads = 0;    // 0: libtorch's default
};

// input {"text": ...} or {"ids": [...]}; output {"sequences", "texts", "scores"}
struct GenerateToolOptions : ModelToolFiles {
  int64_t max_new_tokens = 32;
  int64_t num_beams = 1;
  int64_t num_return_sequences = 1;
  bool do_sample = false;
  double temperature = 1.0;
  int64_t top_k = 0;
  double top_p = 1.0;
  uint64_t seed = 0;
  double length_penalty = 1.0;
  std::string early_stopping = "false";  // "false" | "true" | "never"
  std::vector<std::string> stop_strings;
  bool chat = false;
  std::optional<bool> enable_thinking;
  int64_t batch_size = 8;
};

// input {"ids": [...]}; output {"logprobs": [...]}
struct ScoreToolOptions : ModelToolFiles {};

// input {"text": ...} or {"ids": [...]}; output {"embedding": [...]}
struct EncodeToolOptions : ModelToolFiles {
  std::string pooling = "mean";
  bool normalize = true;
  std::string instruction;  // prefix for text inputs (Qwen3-Embedding: "Instruct: ...\nQuery:")
  int64_t batch_size = 16;
};

struct InitModelToolOptions {
  std::string config;     // a config.json of the qwen3 or qwen2 family
  std::string out;        // checkpoint folder to write
  uint64_t seed = 0;
  std::string dtype = "float32";
  std::string tokenizer;  // optional folder whose tokenizer files are copied
};

// Lines are split round-robin over the ranks; rank 0 writes the output in input order.
int run_generate_tool(Runtime& runtime, const GenerateToolOptions& options);
int run_score_tool(Runtime& runtime, const ScoreToolOptions& options);
int run_encode_tool(Runtime& runtime, const EncodeToolOptions& options);
// Writes a randomly initialised checkpoint (Hugging Face's init) from rank 0.
int run_init_model_tool(Runtime& runtime, const InitModelToolOptions& options);

}  // namespace grlm
