// `grlm generate` and `grlm score`: the model as a command-line tool over JSON Lines. Declared
// without torch types so the CLI layer compiles without libtorch headers.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "grlm/core/runtime.hpp"

namespace grlm {

struct GenerateToolOptions {
  std::string model;   // Hugging Face checkpoint folder
  std::string input;   // JSON Lines: {"text": ...} or {"ids": [...]}
  std::string output;  // JSON Lines: {"sequences", "texts", "scores"}
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
  std::string device = "auto";
  std::string dtype;  // empty: the checkpoint's
  int64_t batch_size = 8;
  int threads = 0;  // 0: libtorch's default
};

struct ScoreToolOptions {
  std::string model;
  std::string input;   // JSON Lines: {"ids": [...]}
  std::string output;  // JSON Lines: {"logprobs": [...]}
  std::string device = "auto";
  std::string dtype;
  int threads = 0;
};

struct EncodeToolOptions {
  std::string model;
  std::string input;   // JSON Lines: {"text": ...} or {"ids": [...]}
  std::string output;  // JSON Lines: {"embedding": [...]}
  std::string pooling = "mean";
  bool normalize = true;
  std::string instruction;  // prefix for text inputs (Qwen3-Embedding: "Instruct: ...\nQuery:")
  int64_t batch_size = 16;
  std::string device = "auto";
  std::string dtype;
  int threads = 0;
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
