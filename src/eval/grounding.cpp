#include "grlm/eval/grounding.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <set>

#include "grlm/text/tid_answer.hpp"

namespace grlm {
namespace {

std::string key_of(const std::vector<std::string>& words) {
  std::string key;
  for (size_t i = 0; i < words.size(); ++i) key += (i ? "," : "") + words[i];
  return key;
}

}  // namespace

std::vector<std::vector<std::string>> tid_groups(const std::vector<std::string>& texts) {
  std::vector<std::vector<std::string>> groups;
  std::set<std::vector<std::string>> seen;
  for (const std::string& text : texts) {
    size_t open = text.find('[');
    while (open != std::string::npos) {
      const size_t close = text.find(']', open + 1);
      if (close == std::string::npos) break;
      std::vector<std::string> words = parse_tid_answer(text.substr(open, close - open + 1)).words;
      words.erase(std::remove(words.begin(), words.end(), std::string()), words.end());
      if (!words.empty() && seen.insert(words).second) groups.push_back(std::move(words));
      open = text.find('[', close + 1);
    }
  }
  return groups;
}

Grounder::Grounder(const std::vector<std::array<std::string, 5>>& tids) : tid_of_(tids.size(), -1) {
  for (uint32_t item = 0; item < tids.size(); ++item) {
    if (tids[item][0].empty()) continue;
    std::array<std::string, 5> canonical;
    for (size_t i = 0; i < 5; ++i) canonical[i] = canonical_tid_word(tids[item][i]);
    const std::string key = key_of(std::vector<std::string>(canonical.begin(), canonical.end()));
    auto [found, added] = index_.emplace(key, distinct_.size());
    if (added) {
      distinct_.push_back(tids[item]);
      canonical_.push_back(std::move(canonical));
      items_of_.emplace_back();
    }
    items_of_[found->second].push_back(item);
    tid_of_[item] = static_cast<int64_t>(found->second);
  }
}

std::vector<size_t> Grounder::tids_covered_by(const std::unordered_set<uint32_t>& items) const {
  std::set<size_t> candidates;
  for (uint32_t item : items) {
    if (item < tid_of_.size() && tid_of_[item] >= 0) candidates.insert(static_cast<size_t>(tid_of_[item]));
  }
  std::vector<size_t> covered;
  for (size_t tid : candidates) {
    const std::vector<uint32_t>& members = items_of_[tid];
    if (std::all_of(members.begin(), members.end(), [&](uint32_t item) { return items.count(item) > 0; })) covered.push_back(tid);
  }
  return covered;
}

double Grounder::score(const std::vector<std::string>& query, const std::array<std::string, 5>& tid) {
  double total = 0;
  for (size_t i = 0; i < query.size(); ++i) {
    double best = 0;
    for (const std::string& word : tid) {
      if (word == query[i]) {
        best = 1.0;
        break;
      }
      if (!word.empty() && !query[i].empty() &&
          (word.find(query[i]) != std::string::npos || query[i].find(word) != std::string::npos)) {
        best = 0.8;
      }
    }
    total += best / static_cast<double>(i + 1);
  }
  return total;
}

std::optional<uint32_t> Grounder::first_item(size_t tid, const std::unordered_set<uint32_t>& excluded) const {
  for (uint32_t item : items_of_[tid]) {
    if (!excluded.count(item)) return item;
  }
  return std::nullopt;
}

size_t RankingMetrics::index_of(size_t k) const {
  const auto found = std::find(ks.begin(), ks.end(), k);
  if (found == ks.end()) throw std::out_of_range("RankingMetrics: no cutoff " + std::to_string(k));
  return static_cast<size_t>(found - ks.begin());
}

std::vector<double> Grounder::exact_scores(const std::vector<uint32_t>& ranked, const std::vector<std::string>& texts,
                                          const std::vector<double>& text_scores) const {
  std::unordered_map<size_t, double> score_of_tid;  // distinct TID -> the best text's score naming it
  for (size_t t = 0; t < texts.size() && t < text_scores.size(); ++t) {
    for (const std::vector<std::string>& group : tid_groups({texts[t]})) {
      const auto exact = group.size() == 5 ? index_.find(key_of(group)) : index_.end();
      if (exact != index_.end()) score_of_tid.emplace(exact->second, text_scores[t]);
    }
  }
  std::vector<double> scores;
  scores.reserve(ranked.size());
  for (uint32_t item : ranked) {
    const int64_t tid = item < tid_of_.size() ? tid_of_[item] : -1;
    const auto found = tid >= 0 ? score_of_tid.find(static_cast<size_t>(tid)) : score_of_tid.end();
    scores.push_back(found != score_of_tid.end() ? found->second : std::numeric_limits<double>::quiet_NaN());
  }
  return scores;
}

std::vector<uint32_t> Grounder::rank(const std::vector<std::vector<std::string>>& groups, size_t size,
                                     const std::unordered_set<uint32_t>& excluded) const {
  std::vector<uint32_t> ranked;
  std::set<uint32_t> listed;
  const auto add = [&](uint32_t item) {
    if (ranked.size() < size && !excluded.count(item) && listed.insert(item).second) ranked.push_back(item);
  };
  // Per fuzzy group, its TIDs by descending score (ties: the earlier TID), consumed in passes.
  std::vector<std::vector<size_t>> fuzzy_order(groups.size());
  std::vector<size_t> next(groups.size(), 0);
  for (size_t g = 0; g < groups.size(); ++g) {
    const auto exact = groups[g].size() == 5 ? index_.find(key_of(groups[g])) : index_.end();
    if (exact != index_.end()) {
      for (uint32_t item : items_of_[exact->second]) add(item);
      continue;
    }
    std::vector<std::pair<double, size_t>> scored;
    for (size_t t = 0; t < distinct_.size(); ++t) scored.emplace_back(score(groups[g], canonical_[t]), t);
    std::stable_sort(scored.begin(), scored.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    for (const auto& [value, t] : scored) fuzzy_order[g].push_back(t);
    // The best TID's first item (the next one not yet listed stays for the fill passes).
    while (next[g] < fuzzy_order[g].size()) {
      const std::optional<uint32_t> item = first_item(fuzzy_order[g][next[g]++], excluded);
      if (item && !listed.count(*item)) {
        add(*item);
        break;
      }
    }
  }
  bool progressed = true;
  while (ranked.size() < size && progressed) {
    progressed = false;
    for (size_t g = 0; g < groups.size() && ranked.size() < size; ++g) {
      while (next[g] < fuzzy_order[g].size()) {
        const std::optional<uint32_t> item = first_item(fuzzy_order[g][next[g]++], excluded);
        if (item && !listed.count(*item)) {
          add(*item);
          progressed = true;
          break;
        }
      }
    }
  }
  return ranked;
}

int64_t hit_rank(const std::vector<uint32_t>& ranked, uint32_t target) {
  const auto found = std::find(ranked.begin(), ranked.end(), target);
  return found == ranked.end() ? -1 : static_cast<int64_t>(found - ranked.begin());
}

RankingMetrics::RankingMetrics() : recall_sum(ks.size(), 0.0), ndcg_sum(ks.size(), 0.0) {}

void RankingMetrics::add(int64_t rank) {
  ++users;
  if (rank < 0) return;
  for (size_t i = 0; i < ks.size(); ++i) {
    if (static_cast<size_t>(rank) < ks[i]) {
      recall_sum[i] += 1.0;
      ndcg_sum[i] += 1.0 / std::log2(static_cast<double>(rank) + 2.0);
    }
  }
}

}  // namespace grlm
