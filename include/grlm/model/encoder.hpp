// The decoder as a text encoder (for catalog embedding): final hidden states pooled per sequence.
#pragma once

#include <string>
#include <vector>

#include "grlm/model/transformer.hpp"

namespace grlm {

enum class Pooling {
  Mean,  // average over the sequence's tokens (the reference's embedder)
  Last,  // the last token's state (Qwen3-Embedding's recipe)
};

Pooling parse_pooling(const std::string& name);  // "mean" | "last"

// [N, hidden] float32 embeddings of `sequences` (left-padded into one batch), L2-normalised when
// `normalize` is set.
at::Tensor encode_sequences(const Transformer& model, const std::vector<std::vector<int64_t>>& sequences, Pooling pooling,
                            bool normalize);

}  // namespace grlm
