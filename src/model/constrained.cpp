#include "grlm/model/constrained.hpp"

#include <algorithm>
#include <limits>

#include "grlm/core/error.hpp"

namespace grlm {

TokenTrie::TokenTrie(const std::vector<std::vector<int64_t>>& sequences) : nodes_(1) {
  for (const std::vector<int64_t>& sequence : sequences) {
    if (sequence.empty()) continue;
    int32_t node = 0;
    for (int64_t token : sequence) {
      auto found = nodes_[static_cast<size_t>(node)].children.find(token);
      if (found == nodes_[static_cast<size_t>(node)].children.end()) {
        nodes_.emplace_back();
        const int32_t child = static_cast<int32_t>(nodes_.size() - 1);
        nodes_[static_cast<size_t>(node)].children.emplace(token, child);
        node = child;
      } else {
        node = found->second;
      }
    }
    if (!nodes_[static_cast<size_t>(node)].terminal) ++sequences_;
    nodes_[static_cast<size_t>(node)].terminal = true;
  }
}

std::vector<int64_t> TokenTrie::allowed_after(const std::vector<int64_t>& prefix, const std::vector<int64_t>& end_tokens) const {
  int32_t node = 0;
  for (int64_t token : prefix) {
    const auto found = nodes_[static_cast<size_t>(node)].children.find(token);
    if (found == nodes_[static_cast<size_t>(node)].children.end()) return {};
    node = found->second;
  }
  std::vector<int64_t> allowed;
  for (const auto& [token, child] : nodes_[static_cast<size_t>(node)].children) allowed.push_back(token);
  if (nodes_[static_cast<size_t>(node)].terminal) allowed.insert(allowed.end(), end_tokens.begin(), end_tokens.end());
  std::sort(allowed.begin(), allowed.end());
  return allowed;
}

LogitsProcessor trie_processor(std::shared_ptr<const TokenTrie> trie, std::vector<int64_t> end_tokens) {
  if (end_tokens.empty()) throw UsageError("trie-constrained decoding needs at least one end token (eos)");
  return [trie = std::move(trie), end_tokens = std::move(end_tokens)](const at::Tensor& generated, at::Tensor& scores) {
    const at::Tensor history = generated.to(at::kCPU, at::kLong).contiguous();
    const int64_t rows = history.size(0);
    const int64_t steps = history.size(1);
    const int64_t vocab = scores.size(1);
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
        allowed = trie->allowed_after(prefix, end_tokens);
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
