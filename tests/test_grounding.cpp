// Grounding generated Term IDs to items and the ranking metrics, on cases worked out by hand
// from the spec's rules (GRLM-SPEC.md stage 6).
#include <cmath>

#include <gtest/gtest.h>

#include "grlm/eval/grounding.hpp"

namespace grlm {
namespace {

using Tid = std::array<std::string, 5>;

std::vector<Tid> catalog_tids() {
  return {
      {"shampoo", "repair", "keratin", "women", "salon"},      // 0
      {"hair-mask", "repair", "argan", "dry", "unisex"},       // 1
      {"shampoo", "repair", "keratin", "women", "salon"},      // 2 (same TID as item 0)
      {"lipstick", "matte", "red", "women", "long-lasting"},  // 3
      {"", "", "", "", ""},                                    // 4 (no valid TID)
      {"conditioner", "repair", "argan", "dry", "women"},      // 5
  };
}

TEST(Grounding, GroupsInOrderWithoutRepeats) {
  const auto groups = tid_groups({"Item text ID: [Shampoo, repair, keratin, women, salon] Title: x.\nItem text ID: [lipstick, matte]",
                                  "[shampoo, repair, keratin, women, salon] [hair mask, dry]"});
  ASSERT_EQ(groups.size(), 3u);
  EXPECT_EQ(groups[0][0], "shampoo");
  EXPECT_EQ(groups[1], (std::vector<std::string>{"lipstick", "matte"}));
  EXPECT_EQ(groups[2], (std::vector<std::string>{"hair-mask", "dry"}));
}

TEST(Grounding, ScoreWeighsPositionsAndPartialMatches) {
  // "repair" equals (1.0 / 1), "mask" is inside "hair-mask" (0.8 / 2), "oil" matches nothing.
  EXPECT_NEAR(Grounder::score({"repair", "mask", "oil"}, catalog_tids()[1]), 1.0 + 0.4, 1e-12);
  EXPECT_NEAR(Grounder::score({"women"}, catalog_tids()[3]), 1.0, 1e-12);
  EXPECT_NEAR(Grounder::score({"x", "y", "lip"}, catalog_tids()[3]), 0.8 / 3, 1e-12);
}

TEST(Grounding, ExactGroupMapsToAllItemsWithThatTid) {
  const Grounder grounder(catalog_tids());
  const auto ranked = grounder.rank({{"shampoo", "repair", "keratin", "women", "salon"}}, 2);
  EXPECT_EQ(ranked, (std::vector<uint32_t>{0, 2}));
}

TEST(Grounding, FuzzyGroupTakesTheBestTidsFirstItemThenFills) {
  const Grounder grounder(catalog_tids());
  // Best for [conditioner, argan]: item 5 (1 + 0.5); then fill with the next-best TIDs:
  // item 1 (argan at position 1: 0.5), then 0/2's TID scores 0, as does 3's: earlier TID first.
  const auto ranked = grounder.rank({{"conditioner", "argan"}}, 20);
  ASSERT_GE(ranked.size(), 4u);
  EXPECT_EQ(ranked[0], 5u);
  EXPECT_EQ(ranked[1], 1u);
  EXPECT_EQ(ranked[2], 0u);  // a TID's first item only
  EXPECT_EQ(ranked[3], 3u);
  EXPECT_EQ(ranked.size(), 4u) << "four distinct TIDs, one item each in fuzzy fill";
  // Already listed items are skipped: an exact group then a fuzzy one pointing at the same TID.
  const auto mixed = grounder.rank({{"shampoo", "repair", "keratin", "women", "salon"}, {"shampoo", "keratin"}}, 3);
  EXPECT_EQ(mixed, (std::vector<uint32_t>{0, 2, 1}));
}

TEST(Grounding, ExcludedItemsAreNeverListedAndTheirTidsFallToTheNextItem) {
  const Grounder grounder(catalog_tids());
  // Exact: of items 0 and 2 (one TID) only the unseen 2 is listed.
  EXPECT_EQ(grounder.rank({{"shampoo", "repair", "keratin", "women", "salon"}}, 20, {0}), (std::vector<uint32_t>{2}));
  // Fuzzy, as above but item 5 seen: its TID has no other item, so the best is 1; the TID of 0/2
  // now stands for 2, its first item not seen.
  EXPECT_EQ(grounder.rank({{"conditioner", "argan"}}, 20, {5, 0}), (std::vector<uint32_t>{1, 2, 3}));
  // Everything seen: nothing to recommend.
  EXPECT_TRUE(grounder.rank({{"conditioner", "argan"}}, 20, {0, 1, 2, 3, 5}).empty());
  // No exclusion: the compat ranking.
  EXPECT_EQ(grounder.rank({{"conditioner", "argan"}}, 20, {}), (std::vector<uint32_t>{5, 1, 0, 3}));
}

TEST(Grounding, TidsCoveredOnlyWhenEveryItemOfTheTidIs) {
  const Grounder grounder(catalog_tids());
  // Distinct TIDs in first-item order: 0/2, 1, 3, 5.
  ASSERT_EQ(grounder.distinct_tids().size(), 4u);
  EXPECT_EQ(grounder.distinct_tids()[3][0], "conditioner");
  EXPECT_TRUE(grounder.tids_covered_by({0}).empty()) << "item 2 shares 0's TID and is not covered";
  EXPECT_EQ(grounder.tids_covered_by({0, 2, 5, 4}), (std::vector<size_t>{0, 3})) << "item 4 has no TID";
}

TEST(Metrics, RecallAndNdcgOnHandMadeRankings) {
  RankingMetrics metrics;
  metrics.add(hit_rank({7, 3, 9}, 7));  // rank 0: hits every K, NDCG 1
  metrics.add(hit_rank({1, 2, 3, 4, 5, 6}, 5));  // rank 4: hits K >= 5, NDCG 1/log2(6)
  metrics.add(hit_rank({1, 2}, 9));  // miss
  metrics.add(hit_rank(std::vector<uint32_t>(25, 0), 1));  // miss
  ASSERT_EQ(metrics.users, 4u);
  EXPECT_DOUBLE_EQ(metrics.recall(0), 0.25);  // @1
  EXPECT_DOUBLE_EQ(metrics.recall(1), 0.25);  // @3
  EXPECT_DOUBLE_EQ(metrics.recall(2), 0.5);   // @5
  EXPECT_DOUBLE_EQ(metrics.ndcg(0), 0.25);
  EXPECT_NEAR(metrics.ndcg(2), (1.0 + 1.0 / std::log2(6.0)) / 4, 1e-12);
  EXPECT_NEAR(metrics.ndcg(4), (1.0 + 1.0 / std::log2(6.0)) / 4, 1e-12);
}

}  // namespace
}  // namespace grlm
