// Collaborative neighbours computed in-process: the weights worked out by hand, training items
// only (held-out targets never count), and the same table at any number of ranks.
#include <map>

#include <gtest/gtest.h>

#include "grlm/core/config.hpp"
#include "grlm/data/cf_neighbours.hpp"
#include "grlm/stages/artifacts.hpp"
#include "grlm/stages/stages.hpp"
#include "test_support.hpp"

namespace grlm {
namespace {

Interactions make_interactions(ItemTable& items, const std::vector<std::vector<std::string>>& histories) {
  Interactions interactions;
  for (size_t u = 0; u < histories.size(); ++u) {
    interactions.user_ids.push_back(std::string("u").append(std::to_string(u)));
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

// Followers: right-after transitions of the training parts, counted; ties by training popularity.
TEST(Followers, CountsWorkedOutByHandTiesByPopularityAndHeldOutItemsNeverCount) {
  ItemTable items;
  // Training parts (last item held out): u0 = a b c a, u1 = d c a, u2 = a b b c, u3 = c d.
  const Interactions interactions =
      make_interactions(items, {{"a", "b", "c", "a", "x"}, {"d", "c", "a", "y"}, {"a", "b", "b", "c", "x"}, {"c", "d", "z"}});
  const Neighbours followers = compute_followers(interactions, items.size(), 1, 5, 0, 1);
  // a -> b twice; b -> c twice (b -> b is skipped); d -> c once.
  EXPECT_EQ(ids_of(items, followers.by_anchor.at(*items.find("a"))), (std::vector<std::string>{"b"}));
  EXPECT_EQ(ids_of(items, followers.by_anchor.at(*items.find("b"))), (std::vector<std::string>{"c"}));
  EXPECT_EQ(ids_of(items, followers.by_anchor.at(*items.find("d"))), (std::vector<std::string>{"c"}));
  // c -> a twice, c -> d once; with one follower kept, only a.
  EXPECT_EQ(ids_of(items, followers.by_anchor.at(*items.find("c"))), (std::vector<std::string>{"a", "d"}));
  EXPECT_EQ(ids_of(items, compute_followers(interactions, items.size(), 1, 1, 0, 1).by_anchor.at(*items.find("c"))),
            (std::vector<std::string>{"a"}));
  for (const char* held_out : {"x", "y", "z"}) {
    EXPECT_FALSE(followers.by_anchor.count(*items.find(held_out))) << held_out;
    for (const auto& [anchor, next] : followers.by_anchor) {
      EXPECT_EQ(std::count(next.begin(), next.end(), *items.find(held_out)), 0) << held_out;
    }
  }
  // A tie: e -> f and e -> g once each; g has more training interactions, so it comes first
  // although f has the lower row.
  ItemTable tied_items;
  const Interactions tied = make_interactions(tied_items, {{"e", "f", "h"}, {"e", "g", "h"}, {"g", "h"}, {"g", "h"}});
  EXPECT_EQ(ids_of(tied_items, compute_followers(tied, tied_items.size(), 1, 5, 0, 1).by_anchor.at(*tied_items.find("e"))),
            (std::vector<std::string>{"g", "f"}));
  // Holding out two items per user instead (u0 = a b c, u1 = d c, u2 = a b b, u3 = c): c is
  // followed by nothing any more.
  const Neighbours two = compute_followers(interactions, items.size(), 2, 5, 0, 1);
  EXPECT_FALSE(two.by_anchor.count(*items.find("c")));
  EXPECT_EQ(ids_of(items, two.by_anchor.at(*items.find("a"))), (std::vector<std::string>{"b"}));
  EXPECT_EQ(ids_of(items, two.by_anchor.at(*items.find("b"))), (std::vector<std::string>{"c"}));
}

TEST(Followers, AnyNumberOfRanksGivesTheSameTableAndTheListsAreByCount) {
  const Config config = Config::load(grlm_config_schema(), std::nullopt,
                                     {"data.interactions=" + test::shared_data("beauty/sequential_data.txt").string()});
  const Dataset dataset = load_dataset(config);
  Communicator& comm = test::runtime().world();
  const Neighbours local = compute_followers(dataset.interactions, dataset.items.size(), 1, 5, comm.rank(), comm.size());
  const Neighbours single = compute_followers(dataset.interactions, dataset.items.size(), 1, 5, 0, 1);
  const RowBlock mine = row_block(static_cast<int64_t>(dataset.items.size()), comm.size(), comm.rank());
  std::unordered_map<ItemIndex, std::vector<ItemIndex>> expected;
  for (const auto& [anchor, next] : single.by_anchor) {
    if (anchor >= mine.first && anchor < mine.end()) expected.emplace(anchor, next);
  }
  EXPECT_EQ(local.by_anchor, expected);
  // Recounted here: every list is non-increasing in count, and no unlisted follower beats the last.
  std::map<std::pair<ItemIndex, ItemIndex>, int> counts;
  const Interactions& interactions = dataset.interactions;
  for (size_t user = 0; user < interactions.num_users(); ++user) {
    for (uint64_t i = interactions.offsets[user]; i + 2 < interactions.offsets[user + 1]; ++i) {
      if (interactions.items[i] != interactions.items[i + 1]) ++counts[{interactions.items[i], interactions.items[i + 1]}];
    }
  }
  std::unordered_map<ItemIndex, int> best_unlisted;
  for (const auto& [pair, count] : counts) {
    const auto& listed = single.by_anchor.at(pair.first);
    if (std::find(listed.begin(), listed.end(), pair.second) == listed.end()) {
      best_unlisted[pair.first] = std::max(best_unlisted[pair.first], count);
    }
  }
  const auto count_of = [&](ItemIndex anchor, ItemIndex next) { return counts[std::make_pair(anchor, next)]; };
  EXPECT_GT(single.by_anchor.size(), 12000u);
  for (const auto& [anchor, next] : single.by_anchor) {
    ASSERT_FALSE(next.empty());
    for (size_t k = 1; k < next.size(); ++k) EXPECT_GE(count_of(anchor, next[k - 1]), count_of(anchor, next[k]));
    if (best_unlisted.count(anchor)) {
      EXPECT_EQ(next.size(), 5u);
      EXPECT_GE(count_of(anchor, next.back()), best_unlisted[anchor]);
    }
  }
}

// The built-in instructions (sft.prompts unset) are the text of configs/prompts/, which users copy.
TEST(SftInstructions, BuiltInOnesAreTheTextOfConfigsPrompts) {
  const Config builtin = Config::load(grlm_config_schema(), std::nullopt, {});
  const Config folder = Config::load(grlm_config_schema(), std::nullopt,
                                     {std::string("sft.prompts=") + GRLM_TEST_SOURCE_DIR + "/configs/prompts"});
  for (const char* task : {"term", "sequence", "collaborative", "transition"}) {
    EXPECT_EQ(artifacts::sft_instruction(builtin, task), artifacts::sft_instruction(folder, task)) << task;
  }
}

}  // namespace
}  // namespace grlm
