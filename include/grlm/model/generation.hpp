// Batched generation with the KV cache: greedy, sampling (temperature, top-k, top-p, seeded) and
// beam search with the selection, finishing and early-stopping rules of Hugging Face's
// `generate`, so the same checkpoint and prompts give the same sequences and scores.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "grlm/model/transformer.hpp"

namespace grlm {

// Changes next-token scores in place before selection: `generated` [rows, steps] holds the tokens
// generated so far (prompt excluded), `scores` [rows, vocab] float32 (logits when greedy or
// sampling, log-probabilities in beam search, as in Hugging Face). Rows are prompt-major: in beam
// search row = prompt * num_beams + beam. A score of -inf forbids a token.
using LogitsProcessor = std::function<void(const at::Tensor& generated, at::Tensor& scores)>;

// true: stop a row when the tokens it generated complete a stop condition (e.g. a stop string).
using StopCheck = std::function<bool(const std::vector<int64_t>& generated)>;

enum class EarlyStopping { Heuristic, WhenDone, Never };  // HF's early_stopping = False, True, "never"

struct GenerationOptions {
  int64_t max_new_tokens = 32;
  int64_t num_beams = 1;
  int64_t num_return_sequences = 1;
  bool do_sample = false;
  double temperature = 1.0;
  int64_t top_k = 0;     // 0: off
  double top_p = 1.0;    // 1: off
  uint64_t seed = 0;
  double length_penalty = 1.0;
  EarlyStopping early_stopping = EarlyStopping::Heuristic;
  std::vector<int64_t> eos_token_ids;
  int64_t pad_token_id = 0;
  LogitsProcessor logits_processor;
  StopCheck stop_check;
  // Greedy/sampling: sum the log-probabilities of the new tokens (a full-vocabulary softmax per
  // step); callers that only need the tokens turn it off.
  bool compute_scores = true;
};

struct GeneratedSequence {
  std::vector<int64_t> tokens;  // new tokens, the final eos included when one ended the sequence
  // Beam search: Hugging Face's sequences_scores (sum of log-probs / length^length_penalty);
  // otherwise the sum of the model's log-probabilities of the tokens.
  double score = 0.0;
};

// One list per prompt: num_return_sequences sequences, best first for beam search.
std::vector<std::vector<GeneratedSequence>> generate(const Transformer& model,
                                                     const std::vector<std::vector<int64_t>>& prompts,
                                                     const GenerationOptions& options);

// The same for any number of prompts: sorted by length, `batch_size` at a time (so little compute
// goes to padding), results in input order.
std::vector<std::vector<GeneratedSequence>> generate_in_batches(const Transformer& model,
                                                                const std::vector<std::vector<int64_t>>& prompts,
                                                                const GenerationOptions& options, size_t batch_size);

// The options of one batch, from the indices (into `prompts`) of the prompts it holds, in batch
// order: for settings that differ per prompt (e.g. a logits processor with per-user exclusions).
using BatchOptions = std::function<GenerationOptions(const std::vector<size_t>& batch_prompts)>;
std::vector<std::vector<GeneratedSequence>> generate_in_batches(const Transformer& model,
                                                                const std::vector<std::vector<int64_t>>& prompts,
                                                                const BatchOptions& options_for_batch, size_t batch_size);

// Teacher-forced log-probability of every token after the first, per sequence.
std::vector<std::vector<double>> score_tokens(const Transformer& model, const std::vector<std::vector<int64_t>>& sequences);

}  // namespace grlm
