#include "grlm/model/constrained.hpp"

#include <algorithm>
#include <cmath>
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
    if (checked_terminal(index, "trie exclusion") >= 0) excluded_at[terminal_of_[index]].insert(index);
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

int32_t TokenTrie::node_after(const std::vector<int64_t>& prefix) const {
  int32_t node = 0;
  for (int64_t token : prefix) {
    node = child(node, token);
    if (node < 0) return -1;
  }
  return node;
}

int32_t TokenTrie::child(int32_t node, int64_t token) const {
  const auto& children = nodes_[static_cast<size_t>(node)].children;
  const auto found = children.find(token);
  return found == children.end() ? -1 : found->second;
}

std::vector<int64_t> TokenTrie::allowed_after(const std::vector<int64_t>& prefix, const std::vector<int64_t>& end_tokens,
                                              const Exclusion* exclusion) const {
  const int32_t node = node_after(prefix);
  return node < 0 ? std::vector<int64_t>{} : allowed_at(node, end_tokens, exclusion);
}

std::vector<int64_t> TokenTrie::allowed_at(int32_t node, const std::vector<int64_t>& end_tokens, const Exclusion* exclusion) const {
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

int32_t TokenTrie::checked_terminal(size_t sequence_index, const char* what) const {
  if (sequence_index >= terminal_of_.size()) {
    throw UsageError(cat(what, ": sequence ", sequence_index, " of ", terminal_of_.size(), " does not exist"));
  }
  return terminal_of_[sequence_index];
}

TokenTrie::Masses TokenTrie::distribution(const std::vector<double>& weights) const {
  if (weights.size() != terminal_of_.size()) {
    throw UsageError(cat("trie prior: ", weights.size(), " base weights for ", terminal_of_.size(), " sequences"));
  }
  Masses masses{std::vector<double>(nodes_.size(), 0.0), std::vector<double>(nodes_.size(), 0.0)};
  for (size_t index = 0; index < weights.size(); ++index) {
    if (!(weights[index] >= 0.0) || !std::isfinite(weights[index])) {
      throw UsageError(cat("trie prior: base weight ", index, " is ", weights[index], " (must be finite and >= 0)"));
    }
    if (terminal_of_[index] >= 0) masses.ending[static_cast<size_t>(terminal_of_[index])] += weights[index];
  }
  // Children are created after their parents, so one backward pass sums every subtree.
  for (size_t node = nodes_.size(); node-- > 0;) {
    masses.below[node] += masses.ending[node];
    if (nodes_[node].parent >= 0) masses.below[static_cast<size_t>(nodes_[node].parent)] += masses.below[node];
  }
  const double total = masses.below[0];
  if (!(total > 0.0)) throw UsageError("trie prior: the base weights sum to 0");
  for (double& mass : masses.below) mass /= total;
  for (double& mass : masses.ending) mass /= total;
  return masses;
}

TokenTrie::SparseMasses TokenTrie::sparse_masses(const std::vector<std::pair<size_t, double>>& weights) const {
  SparseMasses masses;
  for (const auto& [index, weight] : weights) {
    const int32_t terminal = checked_terminal(index, "trie prior");
    if (!(weight >= 0.0) || !std::isfinite(weight)) throw UsageError(cat("trie prior: count ", weight, " of sequence ", index));
    if (terminal < 0 || weight == 0.0) continue;
    masses.ending[terminal] += weight;
    masses.total += weight;
    for (int32_t above = terminal; above >= 0; above = nodes_[static_cast<size_t>(above)].parent) masses.below[above] += weight;
  }
  return masses;
}

namespace {

double mass_at(const std::unordered_map<int32_t, double>& masses, int32_t node) {
  const auto found = masses.find(node);
  return found == masses.end() ? 0.0 : found->second;
}

// The prior's (unnormalised) mass at a node: below it, or (`ending`) of the sequences ending there.
double prior_mass(const TriePrior& prior, const TokenTrie::SparseMasses* counts, int32_t node, bool ending) {
  const size_t at = static_cast<size_t>(node);
  if (ending) return (counts ? mass_at(counts->ending, node) : 0.0) + prior.smoothing * prior.base->ending[at];
  return (counts ? mass_at(counts->below, node) : 0.0) + prior.smoothing * prior.base->below[at];
}

// The prior's log-ratio for each allowed token of a row at `node`, into the row's bonus.
void add_prior(const TokenTrie& trie, const TriePrior& prior, const TokenTrie::SparseMasses* counts, int32_t node,
               const std::vector<int64_t>& allowed, const std::vector<int64_t>& end_tokens, float* row_bonus, int64_t vocab) {
  const double here = prior_mass(prior, counts, node, false);
  if (!(here > 0.0)) return;  // cannot happen on a path of positive mass; no bonus rather than NaN
  const double log_here = std::log(here);
  for (int64_t token : allowed) {
    if (token < 0 || token >= vocab) continue;
    const int32_t next = trie.child(node, token);
    const bool ends = next < 0 && std::find(end_tokens.begin(), end_tokens.end(), token) != end_tokens.end();
    if (next < 0 && !ends) continue;
    const double mass = prior_mass(prior, counts, ends ? node : next, ends);
    row_bonus[token] = static_cast<float>(prior.weight * (std::log(mass) - log_here));  // log(0) = -inf: closed
  }
}

void check_prior(const TriePrior& prior) {
  if (!prior.base) throw UsageError("trie prior: no base distribution");
  if (!(prior.weight >= 0.0) || !std::isfinite(prior.weight)) throw UsageError(cat("trie prior: weight ", prior.weight, " (must be >= 0)"));
  if (!(prior.smoothing > 0.0) || !std::isfinite(prior.smoothing)) {
    throw UsageError(cat("trie prior: smoothing ", prior.smoothing, " (must be > 0)"));
  }
}

}  // namespace

LogitsProcessor trie_processor(std::shared_ptr<const TokenTrie> trie, std::vector<int64_t> end_tokens,
                               std::vector<std::shared_ptr<const TokenTrie::Exclusion>> exclusions, int64_t rows_per_prompt,
                               std::shared_ptr<const TriePrior> prior) {
  if (end_tokens.empty()) throw UsageError("trie-constrained decoding needs at least one end token (eos)");
  if (rows_per_prompt < 1) throw UsageError("trie-constrained decoding: rows_per_prompt must be >= 1");
  if (prior) check_prior(*prior);
  if (prior && prior->weight == 0.0) prior.reset();
  return [trie = std::move(trie), end_tokens = std::move(end_tokens), exclusions = std::move(exclusions), rows_per_prompt,
          prior = std::move(prior)](const at::Tensor& generated, at::Tensor& scores) {
    const at::Tensor history = generated.to(at::kCPU, at::kLong).contiguous();
    const int64_t rows = history.size(0);
    const int64_t steps = history.size(1);
    const int64_t vocab = scores.size(1);
    const auto check_per_prompt = [&](size_t prompts, const char* what) {
      if (static_cast<size_t>(rows) != prompts * static_cast<size_t>(rows_per_prompt)) {
        throw Error(cat("trie-constrained decoding: ", rows, " rows but ", what, " for ", prompts, " prompts of ", rows_per_prompt,
                        " rows"));
      }
    };
    if (!exclusions.empty()) check_per_prompt(exclusions.size(), "exclusions");
    if (prior) check_per_prompt(prior->counts.size(), "prior counts");
    at::Tensor keep = at::zeros({scores.size(0), vocab}, at::kBool);
    bool* keep_rows = keep.data_ptr<bool>();
    at::Tensor bonus = prior ? at::zeros({scores.size(0), vocab}, at::kFloat) : at::Tensor();
    for (int64_t row = 0; row < rows; ++row) {
      const int64_t* tokens = history.data_ptr<int64_t>() + row * steps;
      std::vector<int64_t> prefix(tokens, tokens + steps);
      const size_t prompt = static_cast<size_t>(row / rows_per_prompt);
      // A row that already ended (its end token is followed by padding) keeps ending.
      const auto ended = std::find_first_of(prefix.begin(), prefix.end(), end_tokens.begin(), end_tokens.end());
      std::vector<int64_t> allowed;
      int32_t node = -1;
      if (ended != prefix.end()) {
        allowed = end_tokens;
      } else {
        const TokenTrie::Exclusion* exclusion = exclusions.empty() ? nullptr : exclusions[prompt].get();
        node = trie->node_after(prefix);
        if (node >= 0) allowed = trie->allowed_at(node, end_tokens, exclusion);
        if (allowed.empty()) {  // left the trie: end now
          allowed = end_tokens;
          node = -1;
        }
      }
      // Raw writes: a tensor index per allowed token costs microseconds, and the first TID word
      // alone allows thousands of tokens for every beam.
      bool* row_keep = keep_rows + row * vocab;
      for (int64_t token : allowed) {
        if (token >= 0 && token < vocab) row_keep[token] = true;
      }
      if (prior && node >= 0) add_prior(*trie, *prior, prior->counts[prompt].get(), node, allowed, end_tokens,
                                        bonus.data_ptr<float>() + row * vocab, vocab);
    }
    scores.masked_fill_(keep.to(scores.device()).logical_not(), -std::numeric_limits<float>::infinity());
    if (prior) scores.add_(bonus.to(scores.device()));
  };
}

}  // namespace grlm
