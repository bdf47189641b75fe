// grlm synth: deterministic by seed, accepted by the loaders, and carrying the latent structure
// (product types, complements, brands) that makes next-item prediction learnable.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "grlm/data/dataset.hpp"
#include "grlm/data/synth.hpp"
#include "grlm/data/text_file.hpp"
#include "test_support.hpp"

namespace grlm {
namespace {

std::filesystem::path synth_dir(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / "grlm-synth-tests" / name;
  std::filesystem::remove_all(dir);
  return dir;
}

SynthOptions small_options() {
  SynthOptions options;
  options.items = 1000;
  options.users = 2000;
  return options;
}

TEST(Synth, SameSeedWritesTheSameBytes) {
  const auto first = write_synthetic_dataset(synth_dir("a"), small_options());
  const auto second = write_synthetic_dataset(synth_dir("b"), small_options());
  EXPECT_EQ(read_file_bytes(first.catalog_file), read_file_bytes(second.catalog_file));
  EXPECT_EQ(read_file_bytes(first.interactions_file), read_file_bytes(second.interactions_file));
  SynthOptions other = small_options();
  other.seed = 7;
  const auto third = write_synthetic_dataset(synth_dir("c"), other);
  EXPECT_NE(read_file_bytes(first.interactions_file), read_file_bytes(third.interactions_file));
  EXPECT_NE(read_file_bytes(first.catalog_file), read_file_bytes(third.catalog_file));
}

TEST(Synth, LoadersAcceptTheFilesWithTheRequestedSizes) {
  const auto summary = write_synthetic_dataset(synth_dir("d"), small_options());
  ItemTable items;
  const Catalog catalog = load_catalog(summary.catalog_file, items);
  const Interactions interactions = load_interactions(summary.interactions_file, items, /*closed_items=*/true);
  EXPECT_EQ(catalog.items.size(), 1000u);
  EXPECT_EQ(interactions.num_users(), 2000u);
  EXPECT_EQ(interactions.items.size(), summary.interactions);
  for (size_t u = 0; u < interactions.num_users(); ++u) {
    const uint64_t length = interactions.offsets[u + 1] - interactions.offsets[u];
    ASSERT_GE(length, 5u);
    ASSERT_LE(length, 50u);
    const std::set<ItemIndex> distinct(interactions.items.begin() + static_cast<long>(interactions.offsets[u]),
                                       interactions.items.begin() + static_cast<long>(interactions.offsets[u + 1]));
    ASSERT_EQ(distinct.size(), length) << "user " << u + 1 << " repeats an item";
  }
  for (const CatalogItem& item : catalog.items) {
    ASSERT_FALSE(item.title.empty());
    ASSERT_FALSE(item.description.empty());
    ASSERT_EQ(item.categories.rfind("Beauty > ", 0), 0u);
  }
  const double mean = static_cast<double>(summary.interactions) / 2000.0;
  EXPECT_GT(mean, 7.0);
  EXPECT_LT(mean, 10.0);
}

TEST(Synth, ProductTypeShowsInTitleAndCategories) {
  const auto summary = write_synthetic_dataset(synth_dir("e"), small_options());
  ItemTable items;
  const Catalog catalog = load_catalog(summary.catalog_file, items);
  const auto truth = nlohmann::json::parse(read_file_bytes(summary.truth_file));
  for (size_t i = 0; i < catalog.items.size(); ++i) {
    const std::string type = truth[items.id(static_cast<ItemIndex>(i))]["type"];
    ASSERT_NE(catalog.items[i].title.find(type), std::string::npos) << catalog.items[i].title;
    ASSERT_EQ(catalog.items[i].categories.substr(catalog.items[i].categories.rfind("> ") + 2), type);
  }
}

// Sequential habits: the next item shares the last one's brand, or has a complementary type, far
// more often than two random items would.
TEST(Synth, NextItemsFollowBrandsAndComplementsFarAboveChance) {
  const auto summary = write_synthetic_dataset(synth_dir("f"), small_options());
  ItemTable items;
  load_catalog(summary.catalog_file, items);
  const Interactions interactions = load_interactions(summary.interactions_file, items, true);
  const auto truth = nlohmann::json::parse(read_file_bytes(summary.truth_file));
  std::vector<std::string> brand(items.size());
  std::vector<std::string> department(items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    brand[i] = truth[items.id(static_cast<ItemIndex>(i))]["brand"];
    department[i] = truth[items.id(static_cast<ItemIndex>(i))]["department"];
  }
  uint64_t pairs = 0;
  uint64_t same_brand = 0;
  uint64_t same_department = 0;
  for (size_t u = 0; u < interactions.num_users(); ++u) {
    for (uint64_t k = interactions.offsets[u] + 1; k < interactions.offsets[u + 1]; ++k) {
      const ItemIndex last = interactions.items[k - 1];
      const ItemIndex next = interactions.items[k];
      ++pairs;
      same_brand += brand[last] == brand[next];
      same_department += department[last] == department[next];
    }
  }
  // Chance levels: 40 brands -> well under 0.1; 8 departments -> about 0.15.
  const double brand_rate = static_cast<double>(same_brand) / static_cast<double>(pairs);
  const double department_rate = static_cast<double>(same_department) / static_cast<double>(pairs);
  EXPECT_GT(brand_rate, 0.3) << brand_rate;
  EXPECT_GT(department_rate, 0.5) << department_rate;
}

TEST(Synth, SyntheticTidsAreFiveWordsWithFewCollisions) {
  const auto summary = write_synthetic_dataset(synth_dir("h"), small_options());
  ItemTable items;
  load_catalog(summary.catalog_file, items);
  const TidTable tids = load_tids(summary.tids_file, items, /*closed_items=*/true);
  EXPECT_EQ(std::count(tids.has.begin(), tids.has.end(), 1), 1000);
  std::set<Tid> distinct(tids.tids.begin(), tids.tids.end());
  EXPECT_GT(distinct.size(), 950u);  // collision rate under 5%
  const auto truth = nlohmann::json::parse(read_file_bytes(summary.truth_file));
  // The first word is the product type, as the spec orders TIDs.
  std::string type = truth["1"]["type"];
  std::transform(type.begin(), type.end(), type.begin(), [](char c) { return c == ' ' ? '-' : static_cast<char>(std::tolower(c)); });
  EXPECT_EQ(tids.tids[*items.find("1")][0], type);
}

TEST(Synth, ScalesToLargeCatalogs) {
  SynthOptions options;
  options.items = 200000;
  options.users = 20000;
  const auto summary = write_synthetic_dataset(synth_dir("g"), options);
  ItemTable items;
  load_catalog(summary.catalog_file, items);
  const Interactions interactions = load_interactions(summary.interactions_file, items, true);
  EXPECT_EQ(items.size(), 200000u);
  EXPECT_EQ(interactions.num_users(), 20000u);
  std::filesystem::remove_all(synth_dir("g"));
}

}  // namespace
}  // namespace grlm
