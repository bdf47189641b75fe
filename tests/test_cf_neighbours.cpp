// Collaborative neighbours computed in-process: the weights worked out by hand, training items
// only (held-out targets never count), and the same table at any number of ranks.
#include <gtest/gtest.h>

#include "grlm/core/config.hpp"
#include "grlm/data/cf_neighbours.hpp"
#include "test_support.hpp"

namespace grlm {
namespace {

Interactions make_interactions(ItemTable& items, const std::vector<std::vector<std::string>>& histories) {
  Interactions interactions;
  for (size_t u = 0; u < histories.size(); ++u) {
    interactions.user_ids.push_back("u" + std::to_string(u));
    for (const std::string& id : histories[u]) interactions.items.push_back(items.intern(id));
    interactions.offsets.push_back(interactions.items.size());
  }
  return interactions;
}

std::vector<std::string> ids_of(const ItemTable& items, const std::vector<ItemIndex>& rows) {
  std::vector<std::string> ids;
  for (ItemIndex row : rows) ids.push_back(items.id(row));
  return ids;
}

TEST(CfNeighbours, WeightsWorkedOutByHandAndHeldOutItemsNeverCount) {
  ItemTable items;
  // Training parts: u0 = a b c (d e held out), u1 = a c (x y held out).
  const Interactions interactions = make_interactions(items, {{"a", "b", "c", "d", "e"}, {"a", "c", "x", "y"}});
  const Neighbours neighbours = compute_cf_neighbours(interactions, items.size(), {}, 0, 1);
  // W(a) = 1 + 1/2 + 1 = 2.5, W(b) = 2, W(c) = 2.5; sim(a,b) = 1/sqrt(5) = 0.447,
  // sim(a,c) = 1.5/2.5 = 0.6, sim(b,c) = 1/sqrt(5) = 0.447.
  EXPECT_EQ(ids_of(items, neighbours.by_anchor.at(*items.find("a"))), (std::vector<std::string>{"c", "b"}));
  EXPECT_EQ(ids_of(items, neighbours.by_anchor.at(*items.find("c"))), (std::vector<std::string>{"a", "b"}));
  // b's neighbours tie at 0.447: the lower row (a) first.
  EXPECT_EQ(ids_of(items, neighbours.by_anchor.at(*items.find("b"))), (std::vector<std::string>{"a", "c"}));
  for (const char* held_out : {"d", "e", "x", "y"}) {
    EXPECT_FALSE(neighbours.by_anchor.count(*items.find(held_out))) << held_out;
    for (const auto& [anchor, nearest] : neighbours.by_anchor) {
      EXPECT_EQ(std::count(nearest.begin(), nearest.end(), *items.find(held_out)), 0) << held_out;
    }
  }
}

TEST(CfNeighbours, BeautyEqualsNeighboursOfTheTruncatedHistories) {
  const Config config = Config::load(grlm_config_schema(), std::nullopt,
                                     {"data.interactions=" + test::shared_data("beauty/sequential_data.txt").string()});
  const Dataset dataset = load_dataset(config);
  const Neighbours held_out = compute_cf_neighbours(dataset.interactions, dataset.items.size(), {}, 0, 1);
  // The same computation with no hold-out on histories cut by two items by hand.
  Interactions truncated;
  for (size_t u = 0; u < dataset.interactions.num_users(); ++u) {
    truncated.user_ids.push_back(dataset.interactions.user_ids[u]);
    truncated.items.insert(truncated.items.end(), dataset.interactions.items.begin() + static_cast<long>(dataset.interactions.offsets[u]),
                           dataset.interactions.items.begin() + static_cast<long>(dataset.interactions.offsets[u + 1] - 2));
    truncated.offsets.push_back(truncated.items.size());
  }
  CfNeighbourOptions no_holdout;
  no_holdout.holdout = 0;
  const Neighbours expected = compute_cf_neighbours(truncated, dataset.items.size(), no_holdout, 0, 1);
  EXPECT_EQ(held_out.by_anchor, expected.by_anchor);
  EXPECT_GT(held_out.by_anchor.size(), 11000u);
}

TEST(CfNeighbours, AnyNumberOfRanksGivesTheSameTable) {
  const Config config = Config::load(grlm_config_schema(), std::nullopt,
                                     {"data.interactions=" + test::shared_data("beauty/sequential_data.txt").string()});
  const Dataset dataset = load_dataset(config);
  Communicator& comm = test::runtime().world();
  const Neighbours local = compute_cf_neighbours(dataset.interactions, dataset.items.size(), {}, comm.rank(), comm.size());
  const Neighbours single = compute_cf_neighbours(dataset.interactions, dataset.items.size(), {}, 0, 1);
  // Each rank holds exactly the single-rank table's anchors of its block of item rows.
  const RowBlock mine = row_block(static_cast<int64_t>(dataset.items.size()), comm.size(), comm.rank());
  std::unordered_map<ItemIndex, std::vector<ItemIndex>> expected;
  for (const auto& [anchor, nearest] : single.by_anchor) {
    if (anchor >= mine.first && anchor < mine.end()) expected.emplace(anchor, nearest);
  }
  EXPECT_EQ(local.by_anchor, expected);
  EXPECT_EQ(local.width, 20u);
  const auto held = all_reduce_value<int64_t>(comm, static_cast<int64_t>(local.by_anchor.size()), ReduceOp::Sum);
  EXPECT_EQ(held, static_cast<int64_t>(single.by_anchor.size()));
}

}  // namespace
}  // namespace grlm
