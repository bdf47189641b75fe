#include "grlm/model/constrained.hpp"

#include <algorithm>
#include <limits>

#include "grlm/core/error.hpp"

namespace grlm {

TokenTrie::TokenTrie(const std::vector<std::vector<int64_t>>& sequences) : nodes_(1) {
  terminal_of_.reserve(sequences.size());
  for (const std::vector<int64_t>& sequence : sequences) {
    if (sequence.empty()) {
      terminal_of_.push_back(-1);
      continue;
    }
    int32_t node = 0;
    for (int64_t token : sequence) {
      auto found = nodes_[static_cast<size_t>(node)].children.find(token);
      if (found == nodes_[static_cast<size_t>(node)].children.end()) {
        nodes_.emplace_back();
        const int32_t child = static_cast<int32_t>(nodes_.size() - 1);
        nodes_[static_cast<size_t>(child)].parent = node;
        nodes_[static_cast<size_t>(child)].token = token;
        nodes_[static_cast<size_t>(node)].children.emplace(token, child);
        node = child;
      } else {
        node = found->second;
      }
    }
    terminal_of_.push_back(node);
    ++indices_at_[node];
    if (nodes_[static_cast<size_t>(node)].terminal) continue;
    nodes_[static_cast<size_t>(node)].terminal = true;
    ++sequences_;
    for (int32_t above = node; above >= 0; above = nodes_[static_cast<size_t>(above)].parent) {
      ++nodes_[static_cast<size_t>(above)].sequences_below;
    }
  }
}

TokenTrie::Exclusion TokenTrie::exclude(const std::vector<size_t>& sequence_indices) const {
  Exclusion exclusion;
  std::unordered_map<int32_t, std::unordered_set<size_t>> excluded_at;  // terminal -> excluded indices ending there
  for (size_t index : sequence_indices) {
    if (index >= terminal_of_.size()) {
      throw UsageError(cat("trie exclusion: sequence ", index, " of ", terminal_of_.size(), " does not exist"));
    }
    if (terminal_of_[index] >= 0) excluded_at[terminal_of_[index]].insert(index);
  }
  std::unordered_map<int32_t, int32_t> closed_below;  // node -> excluded sequences under it
  for (const auto& [terminal, indices] : excluded_at) {
    // Two inputs may tokenize alike (e.g. to an unknown token): the sequence closes only when all are excluded.
    if (static_cast<int32_t>(indices.size()) < indices_at_.at(terminal)) continue;
    exclusion.terminals.insert(terminal);
    for (int32_t above = terminal; above >= 0; above = nodes_[static_cast<size_t>(above)].parent) ++closed_below[above];
  }
  // Kept per parent, so that a step costs one lookup per row rather than one per child.
  for (const auto& [node, closed] : closed_below) {
    const Node& closed_node = nodes_[static_cast<size_t>(node)];
    if (closed == closed_node.sequences_below && closed_node.parent >= 0) {
      exclusion.closed_tokens[closed_node.parent].push_back(closed_node.token);
    }
  }
  return exclusion;
}

std::vector<int64_t> TokenTrie::allowed_after(const std::vector<int64_t>& prefix, const std::vector<int64_t>& end_tokens,
                                              const Exclusion* exclusion) const {
  int32_t node = 0;
  for (int64_t token : prefix) {
    const auto found = nodes_[static_cast<size_t>(node)].children.find(token);
    if (found == nodes_[static_cast<size_t>(node)].children.end()) return {};
    node = found->second;
  }
  const std::vector<int64_t>* closed = nullptr;
  if (exclusion) {
    const auto found = exclusion->closed_tokens.find(node);
    if (found != exclusion->closed_tokens.end()) closed = &found->second;
  }
  std::vector<int64_t> allowed;
  for (const auto& [token, child] : nodes_[static_cast<size_t>(node)].children) {
    if (!closed || std::find(closed->begin(), closed->end(), token) == closed->end()) allowed.push_back(token);
  }
  const bool excluded_here = exclusion && exclusion->terminals.count(node);
  if (nodes_[static_cast<size_t>(node)].terminal && !excluded_here) allowed.insert(allowed.end(), end_tokens.begin(), end_tokens.end());
  std::sort(allowed.begin(), allowed.end());
  return allowed;
}

LogitsProcessor trie_processor(std::shared_ptr<const TokenTrie> trie, std::vector<int64_t> end_tokens,
                               std::vector<std::shared_ptr<const TokenTrie::Exclusion>> exclusions, int64_t rows_per_prompt) {
  if (end_tokens.empty()) throw UsageError("trie-constrained decoding needs at least one end token (eos)");
  if (rows_per_prompt < 1) throw UsageError("trie-constrained decoding: rows_per_prompt must be >= 1");
  return [trie = std::move(trie), end_tokens = std::move(end_tokens), exclusions = std::move(exclusions),
          rows_per_prompt](const at::Tensor& generated, at::Tensor& scores) {
    const at::Tensor history = generated.to(at::kCPU, at::kLong).contiguous();
    const int64_t rows = history.size(0);
    const int64_t steps = history.size(1);
    const int64_t vocab = scores.size(1);
    if (!exclusions.empty() && static_cast<size_t>(rows) != exclusions.size() * static_cast<size_t>(rows_per_prompt)) {
      throw Error(cat("trie-constrained decoding: ", rows, " rows but exclusions for ", exclusions.size(), " prompts of ",
                      rows_per_prompt, " rows"));
    }
    at::Tensor keep = at::zeros({scores.size(0), vocab}, at::kBool);
    bool* keep_rows = keep.data_ptr<bool>();
    for (int64_t row = 0; row < rows; ++row) {
      const int64_t* tokens = history.data_ptr<int64_t>() + row * steps;
      std::vector<int64_t> prefix(tokens, tokens + steps);
      // A row that already ended (its end token is followed by padding) keeps ending.
      const auto ended = std::find_first_of(prefix.begin(), prefix.end(), end_tokens.begin(), end_tokens.end());
      std::vector<int64_t> allowed;
      if (ended != prefix.end()) {
        allowed = end_tokens;
      } else {
        const TokenTrie::Exclusion* exclusion =
            exclusions.empty() ? nullptr : exclusions[static_cast<size_t>(row / rows_per_prompt)].get();
        allowed = trie->allowed_after(prefix, end_tokens, exclusion);
        if (allowed.empty()) allowed = end_tokens;  // left the trie: end now
      }
      // Raw writes: a tensor index per allowed token costs microseconds, and the first TID word
      // alone allows thousands of tokens for every beam.
      bool* row_keep = keep_rows + row * vocab;
      for (int64_t token : allowed) {
        if (token >= 0 && token < vocab) row_keep[token] = true;
      }
    }
    scores.masked_fill_(keep.to(scores.device()).logical_not(), -std::numeric_limits<float>::infinity());
  };
}

}  // namespace grlm
