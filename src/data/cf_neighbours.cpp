#include "grlm/data/cf_neighbours.hpp"

#include <algorithm>
#include <cmath>

#include "grlm/core/error.hpp"

namespace grlm {
namespace {

struct PairWeight {
  ItemIndex anchor;
  ItemIndex other;
  double weight;
};

// Calls visit(first, end) with the index range of every user's training part: the history
// without its last `holdout` items (users with no training part are skipped).
template <class Visit>
void for_each_training_part(const Interactions& interactions, size_t holdout, Visit&& visit) {
  for (size_t user = 0; user < interactions.num_users(); ++user) {
    const uint64_t begin = interactions.offsets[user];
    const uint64_t end = interactions.offsets[user + 1];
    if (end - begin > holdout) visit(begin, end - holdout);
  }
}

// Calls visit(a, b, weight) for every co-occurring pair of a user's training items, both ways.
template <class Visit>
void for_each_training_pair(const Interactions& interactions, const CfNeighbourOptions& options, Visit&& visit) {
  for_each_training_part(interactions, options.holdout, [&](uint64_t begin, uint64_t training_end) {
    for (uint64_t i = begin; i < training_end; ++i) {
      for (uint64_t j = i + 1; j < training_end && j - i <= options.max_distance; ++j) {
        const ItemIndex a = interactions.items[i];
        const ItemIndex b = interactions.items[j];
        if (a == b) continue;
        const double weight = 1.0 / static_cast<double>(j - i);
        visit(a, b, weight);
        visit(b, a, weight);
      }
    }
  });
}

// The items of the `top_k` best entries of `scored` (each has an `item`), best first.
template <class Scored, class Better>
std::vector<ItemIndex> best_items(std::vector<Scored>& scored, size_t top_k, Better better) {
  const size_t keep = std::min(top_k, scored.size());
  std::partial_sort(scored.begin(), scored.begin() + static_cast<std::ptrdiff_t>(keep), scored.end(), better);
  std::vector<ItemIndex> items;
  for (size_t k = 0; k < keep; ++k) items.push_back(scored[k].item);
  return items;
}

}  // namespace

Neighbours compute_cf_neighbours(const Interactions& interactions, size_t num_items, const CfNeighbourOptions& options,
                                 int rank, int ranks) {
  // Every item's total weight (needed for all anchors' denominators).
  std::vector<double> total(num_items, 0.0);
  std::vector<PairWeight> pairs;
  const RowBlock mine = row_block(static_cast<int64_t>(num_items), ranks, rank);
  const auto owns = [&](ItemIndex item) { return item >= mine.first && item < mine.end(); };
  for_each_training_pair(interactions, options, [&](ItemIndex a, ItemIndex b, double weight) {
    total[a] += weight;
    if (owns(a)) pairs.push_back({a, b, weight});
  });
  std::sort(pairs.begin(), pairs.end(), [](const PairWeight& x, const PairWeight& y) {
    return x.anchor != y.anchor ? x.anchor < y.anchor : x.other < y.other;
  });
  Neighbours neighbours;
  neighbours.width = options.top_k;
  size_t at = 0;
  struct Scored {
    double similarity;
    ItemIndex item;
  };
  std::vector<Scored> scored;
  while (at < pairs.size()) {
    const ItemIndex anchor = pairs[at].anchor;
    scored.clear();
    while (at < pairs.size() && pairs[at].anchor == anchor) {
      const ItemIndex other = pairs[at].other;
      double weight = 0;
      while (at < pairs.size() && pairs[at].anchor == anchor && pairs[at].other == other) weight += pairs[at++].weight;
      scored.push_back({weight / std::sqrt(total[anchor] * total[other]), other});
    }
    neighbours.by_anchor.emplace(anchor, best_items(scored, options.top_k, [](const Scored& x, const Scored& y) {
                                   return x.similarity != y.similarity ? x.similarity > y.similarity : x.item < y.item;
                                 }));
  }
  return neighbours;
}

TransitionCounts count_transitions(const Interactions& interactions, size_t num_items, size_t holdout) {
  TransitionCounts counts;
  counts.popularity.assign(num_items, 0);
  std::vector<std::pair<ItemIndex, ItemIndex>> transitions;
  for_each_training_part(interactions, holdout, [&](uint64_t begin, uint64_t training_end) {
    for (uint64_t i = begin; i < training_end; ++i) {
      ++counts.popularity[interactions.items[i]];
      if (i + 1 < training_end) transitions.emplace_back(interactions.items[i], interactions.items[i + 1]);
    }
  });
  std::sort(transitions.begin(), transitions.end());
  counts.followers.resize(num_items);
  for (size_t at = 0; at < transitions.size();) {
    const auto [anchor, follower] = transitions[at];
    uint32_t times = 0;
    for (; at < transitions.size() && transitions[at] == std::make_pair(anchor, follower); ++at) ++times;
    counts.followers[anchor].emplace_back(follower, times);
  }
  return counts;
}

Neighbours compute_followers(const Interactions& interactions, size_t num_items, size_t holdout, size_t top_k,
                             int rank, int ranks) {
  const TransitionCounts counts = count_transitions(interactions, num_items, holdout);
  const RowBlock mine = row_block(static_cast<int64_t>(num_items), ranks, rank);
  Neighbours followers;
  followers.width = top_k;
  struct Counted {
    uint32_t count;
    ItemIndex item;
  };
  std::vector<Counted> counted;
  for (int64_t row = mine.first; row < mine.end(); ++row) {
    const auto anchor = static_cast<ItemIndex>(row);
    counted.clear();
    for (const auto& [item, times] : counts.followers[anchor]) {
      if (item != anchor) counted.push_back({times, item});
    }
    if (counted.empty()) continue;
    followers.by_anchor.emplace(anchor, best_items(counted, top_k, [&](const Counted& x, const Counted& y) {
                                  if (x.count != y.count) return x.count > y.count;
                                  if (counts.popularity[x.item] != counts.popularity[y.item]) {
                                    return counts.popularity[x.item] > counts.popularity[y.item];
                                  }
                                  return x.item < y.item;
                                }));
  }
  return followers;
}

void write_neighbours_header(std::ostream& out, size_t width) {
  out << "anchor";
  for (size_t k = 1; k <= width; ++k) out << " top" << k;
  out << "\n";
}

size_t write_neighbour_lines(std::ostream& out, const Neighbours& neighbours, const ItemTable& items) {
  std::vector<ItemIndex> anchors;
  for (const auto& [anchor, nearest] : neighbours.by_anchor) anchors.push_back(anchor);
  std::sort(anchors.begin(), anchors.end());
  size_t left_out = 0;
  for (ItemIndex anchor : anchors) {
    const auto& nearest = neighbours.by_anchor.at(anchor);
    if (nearest.size() < neighbours.width) {
      ++left_out;
      continue;
    }
    out << items.id(anchor);
    for (ItemIndex item : nearest) out << " " << items.id(item);
    out << "\n";
  }
  return left_out;
}

}  // namespace grlm
