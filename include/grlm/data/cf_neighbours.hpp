// Collaborative neighbours computed in-process when no neighbours file is given: item-to-item
// similarity from the training part of the interactions only (each user's last `holdout` items
// never count), so neither a validation nor a test interaction leaks into training data.
#pragma once

#include <ostream>
#include <utility>
#include <vector>

#include "grlm/core/comm.hpp"
#include "grlm/data/dataset.hpp"

namespace grlm {

struct CfNeighbourOptions {
  size_t top_k = 20;         // neighbours per anchor (the reference file has 20)
  size_t max_distance = 5;   // items at most this far apart in a user's history co-occur
  size_t holdout = 2;        // each user's last items left out (validation and test targets)
};

// Two items co-occur when they are at most `max_distance` apart in a user's history,
// with weight 1 / distance, in both directions. similarity(a, b) = w(a, b) / sqrt(W(a) W(b)),
// W = an item's total weight. Neighbours: the `top_k` most similar items, ties by lower row.
// Computes the anchors of `rank`'s block of item rows (row_block); every rank reads all users, so
// the result does not depend on the number of ranks.
Neighbours compute_cf_neighbours(const Interactions& interactions, size_t num_items, const CfNeighbourOptions& options,
                                 int rank, int ranks);

// Followers (the "transition" SFT task): per anchor, the items bought right after it in the
// training part of the histories (each user's last `holdout` items never count; an item followed by
// itself is skipped), the most frequent first; ties: the item with more training interactions, then
// the lower row. This is what the last-item transition baseline ranks by, given to the model as a
// task. At most `top_k` per anchor; anchors of `rank`'s block of item rows (row_block); every rank
// reads all users, so the result does not depend on the number of ranks.
Neighbours compute_followers(const Interactions& interactions, size_t num_items, size_t holdout, size_t top_k,
                             int rank, int ranks);

// Every transition a -> b between consecutive items of the training part of the histories (each
// user's last `holdout` items never count; a -> a counts too), and every item's training
// interactions: the counts the last-item transition baseline ranks by, and the prior that
// evaluate.transition_prior fuses into beam search.
struct TransitionCounts {
  std::vector<std::vector<std::pair<ItemIndex, uint32_t>>> followers;  // by anchor row: (follower, times), follower order
  std::vector<uint64_t> popularity;                                   // by item row
};
TransitionCounts count_transitions(const Interactions& interactions, size_t num_items, size_t holdout);

// The reference's text format: the header "anchor top1 ... topN", then one line per anchor in row
// order. The format has a fixed width, so anchors with fewer than N neighbours are left out;
// returns how many were left out (the caller reports them).
void write_neighbours_header(std::ostream& out, size_t width);
size_t write_neighbour_lines(std::ostream& out, const Neighbours& neighbours, const ItemTable& items);

}  // namespace grlm
