// Loaders of the spec's input formats: the real Beauty files load with the published figures, and
// every malformed case gets an error that names the file and the line or item.
#include <gtest/gtest.h>

#include <set>

#include "grlm/core/config.hpp"
#include "grlm/core/error.hpp"
#include "grlm/data/dataset.hpp"
#include "grlm/data/text_file.hpp"
#include "test_support.hpp"

namespace grlm {
namespace {

std::filesystem::path scratch_file(const std::string& name, const std::string& text) {
  const auto dir = std::filesystem::temp_directory_path() / "grlm-loader-tests";
  std::filesystem::create_directories(dir);
  const auto file = dir / name;
  test::write_text(file, text);
  return file;
}

template <class Action>
std::string input_error_of(Action&& action) {
  try {
    action();
  } catch (const InputError& error) {
    return error.what();
  }
  return "(no error)";
}

#define EXPECT_MESSAGE_HAS(message, part) EXPECT_NE((message).find(part), std::string::npos) << (message)

// ---------------------------------------------------------------- real data

TEST(BeautyData, InteractionsHaveThePublishedFigures) {
  ItemTable items;
  const Interactions interactions = load_interactions(test::shared_data("beauty/sequential_data.txt"), items, false);
  EXPECT_EQ(interactions.num_users(), 22363u);
  EXPECT_EQ(items.size(), 12101u);
  EXPECT_EQ(interactions.items.size(), 194687u);  // 22,363 users x mean 8.71
  EXPECT_EQ(interactions.user_ids[0], "1");
  // user 1: 1 2 3 4 5 6 7 8 (first line of the file)
  ASSERT_EQ(interactions.offsets[1], 8u);
  EXPECT_EQ(items.id(interactions.items[0]), "1");
  EXPECT_EQ(items.id(interactions.items[7]), "8");
}

TEST(BeautyData, TidsAreFiveWordsForEveryItem) {
  ItemTable items;
  const TidTable tids = load_tids(test::shared_data("beauty/beauty_item_id2tid.json"), items, false);
  EXPECT_EQ(items.size(), 12101u);
  EXPECT_EQ(std::count(tids.has.begin(), tids.has.end(), 1), 12101);
  const ItemIndex first = *items.find("1");
  EXPECT_EQ(tids.tids[first], (Tid{"hair-mask", "color-lock", "citrus", "protein", "unisex"}));
  std::set<Tid> distinct(tids.tids.begin(), tids.tids.end());
  EXPECT_EQ(distinct.size(), 11857u);  // collision rate 2.02%, as the data README says
}

TEST(BeautyData, NeighboursHaveTwentyPerAnchor) {
  ItemTable items;
  load_tids(test::shared_data("beauty/beauty_item_id2tid.json"), items, false);
  const Neighbours neighbours = load_neighbours(test::shared_data("beauty/similar_item_sasrec_num.txt"), items);
  EXPECT_EQ(neighbours.width, 20u);
  const auto& first = neighbours.by_anchor.at(*items.find("132"));
  EXPECT_EQ(items.id(first[0]), "1349");
  EXPECT_EQ(items.id(first[19]), "9468");
}

TEST(BeautyData, CatalogHeadKeepsTextAndExtraFields) {
  ItemTable items;
  const Catalog catalog = load_catalog(test::shared_data("beauty/beauty.item.head.json"), items);
  EXPECT_EQ(catalog.items.size(), 273u);
  EXPECT_EQ(items.id(0), "1");  // the file's order, not sorted ("1", "2", ..., not "1", "10", ...)
  EXPECT_EQ(items.id(9), "10");
  EXPECT_EQ(catalog.items[0].title, "Phyto Phytocitrus Restructuring Mask for Unisex, 6.7 Ounce");
  EXPECT_EQ(catalog.items[0].categories, "Beauty > Hair Care > Conditioners");
  EXPECT_TRUE(catalog.items[0].extra.contains("sid"));
}

TEST(BeautyData, DatasetFromConfigCrossChecksFiles) {
  const Config config = Config::load(
      grlm_config_schema(), std::nullopt,
      {"data.interactions=" + test::shared_data("beauty/sequential_data.txt").string(),
       "data.tids=" + test::shared_data("beauty/beauty_item_id2tid.json").string(),
       "data.neighbours=" + test::shared_data("beauty/similar_item_sasrec_num.txt").string()});
  const Dataset dataset = load_dataset(config);
  EXPECT_FALSE(dataset.catalog.has_value());
  EXPECT_EQ(dataset.items.size(), 12101u);
  EXPECT_EQ(dataset.tids->has.size(), 12101u);
  EXPECT_EQ(dataset.neighbours->by_anchor.size(), 12101u);
}

// ---------------------------------------------------------------- catalog errors

TEST(CatalogErrors, MalformedJsonNamesFileAndLine) {
  const auto file = scratch_file("bad1.json", "{\n  \"1\": {\"title\": \"a\"},\n  \"2\": {\"title\": \"b\",}\n}\n");
  ItemTable items;
  const std::string message = input_error_of([&] { load_catalog(file, items); });
  EXPECT_MESSAGE_HAS(message, file.string());
  EXPECT_MESSAGE_HAS(message, "line 3");
  EXPECT_MESSAGE_HAS(message, "not valid JSON");
}

TEST(CatalogErrors, InvalidUtf8NamesLineAndColumn) {
  const auto file = scratch_file("bad2.json", "{\n  \"1\": {\"title\": \"caf\xC3\"},\n}\n");
  ItemTable items;
  const std::string message = input_error_of([&] { load_catalog(file, items); });
  EXPECT_MESSAGE_HAS(message, "line 2, column 22");
  EXPECT_MESSAGE_HAS(message, "invalid UTF-8");
}

TEST(CatalogErrors, RepeatedItemIdIsNamed) {
  const auto file = scratch_file("bad3.json", R"({"7": {"title": "a"}, "8": {}, "7": {"title": "b"}})");
  ItemTable items;
  const std::string message = input_error_of([&] { load_catalog(file, items); });
  EXPECT_MESSAGE_HAS(message, "item id \"7\" appears twice");
}

TEST(CatalogErrors, NonStringTitleNamesItemAndField) {
  const auto file = scratch_file("bad4.json", R"({"1": {"title": "a"}, "2": {"title": 12}})");
  ItemTable items;
  const std::string message = input_error_of([&] { load_catalog(file, items); });
  EXPECT_MESSAGE_HAS(message, "item \"2\"");
  EXPECT_MESSAGE_HAS(message, "field 'title' must be a string, got 12");
}

TEST(CatalogErrors, ItemThatIsNotAnObjectIsNamed) {
  const auto file = scratch_file("bad5.json", R"({"1": "just a title"})");
  ItemTable items;
  EXPECT_MESSAGE_HAS(input_error_of([&] { load_catalog(file, items); }), "item \"1\": expected an object");
}

TEST(CatalogErrors, TopLevelThatIsNotAnObjectOrEmptyIsAnError) {
  ItemTable items;
  EXPECT_MESSAGE_HAS(input_error_of([&] { load_catalog(scratch_file("bad6.json", R"([{"title": "a"}])"), items); }),
                     "expected a JSON object keyed by item id");
  EXPECT_MESSAGE_HAS(input_error_of([&] { load_catalog(scratch_file("bad7.json", "{}"), items); }), "no items");
  EXPECT_MESSAGE_HAS(input_error_of([&] { load_catalog(scratch_file("bad8.json", R"({"1": {}} {"2": {}})"), items); }),
                     "not valid JSON");
}

TEST(Catalog, NestedExtraFieldsAreKeptWhole) {
  const auto file = scratch_file("ok2.json", R"({"x": {"title": "T", "price": 9.5, "related": {"also_bought": ["a", "b"],
                                                 "rank": [1, {"k": null}]}, "sid": "s"}})");
  ItemTable items;
  const Catalog catalog = load_catalog(file, items);
  EXPECT_EQ(catalog.items[0].title, "T");
  EXPECT_EQ(catalog.items[0].extra.dump(),
            R"({"price":9.5,"related":{"also_bought":["a","b"],"rank":[1,{"k":null}]},"sid":"s"})");
}

TEST(Catalog, CategoryPathsAndMissingFields) {
  const auto file = scratch_file("ok1.json", R"({"a": {"categories": [["Beauty", "Hair"], ["Beauty", "Skin"]]},
                                                 "b": {"title": null, "categories": ["Beauty", "Nails"]}})");
  ItemTable items;
  const Catalog catalog = load_catalog(file, items);
  EXPECT_EQ(catalog.items[0].categories, "Beauty > Hair | Beauty > Skin");
  EXPECT_EQ(catalog.items[0].title, "");
  EXPECT_EQ(catalog.items[1].categories, "Beauty > Nails");
}

// ---------------------------------------------------------------- interactions errors

TEST(InteractionsErrors, EmptyLineIsNamed) {
  const auto file = scratch_file("i1.txt", "u1 a b\n\nu2 b c\n");
  ItemTable items;
  const std::string message = input_error_of([&] { load_interactions(file, items, false); });
  EXPECT_MESSAGE_HAS(message, file.string() + ": line 2: empty line");
}

TEST(InteractionsErrors, RepeatedUserNamesBothLines) {
  const auto file = scratch_file("i2.txt", "u1 a b\nu2 c\nu1 d\n");
  ItemTable items;
  const std::string message = input_error_of([&] { load_interactions(file, items, false); });
  EXPECT_MESSAGE_HAS(message, "line 3: user \"u1\" appears again (first on line 1)");
}

TEST(InteractionsErrors, UnknownItemIdNamesLineUserAndItem) {
  const auto catalog = scratch_file("i3-catalog.json", R"({"a": {}, "b": {}})");
  const auto file = scratch_file("i3.txt", "u1 a b\nu2 b zz a\n");
  ItemTable items;
  load_catalog(catalog, items);
  const std::string message = input_error_of([&] { load_interactions(file, items, true); });
  EXPECT_MESSAGE_HAS(message, "line 2: user \"u2\": item id \"zz\" is not in the catalog");
}

TEST(InteractionsErrors, InvalidUtf8NamesLine) {
  const auto file = scratch_file("i4.txt", "u1 a\nu2 \xFF\xFE b\n");
  ItemTable items;
  const std::string message = input_error_of([&] { load_interactions(file, items, false); });
  EXPECT_MESSAGE_HAS(message, "line 2, column 4: invalid UTF-8");
}

TEST(InteractionsErrors, UserWithoutItemsIsNamed) {
  const auto file = scratch_file("i5.txt", "u1 a\nu2\n");
  ItemTable items;
  EXPECT_MESSAGE_HAS(input_error_of([&] { load_interactions(file, items, false); }), "line 2: user \"u2\" has no items");
}

TEST(Interactions, CrLfTabsAndNoFinalNewlineAreAccepted) {
  const auto file = scratch_file("i6.txt", "u1 a\tb\r\nu2  c a");
  ItemTable items;
  const Interactions interactions = load_interactions(file, items, false);
  ASSERT_EQ(interactions.num_users(), 2u);
  EXPECT_EQ(interactions.offsets, (std::vector<uint64_t>{0, 2, 4}));
  EXPECT_EQ(items.ids(), (std::vector<std::string>{"a", "b", "c"}));
}

TEST(Interactions, TrailingBlankLinesAreAcceptedBlankLinesBetweenUsersAreNot) {
  ItemTable items;
  EXPECT_EQ(load_interactions(scratch_file("i7.txt", "u1 a b\nu2 c\n\n\r\n  \n"), items, false).num_users(), 2u);
  EXPECT_MESSAGE_HAS(input_error_of([&] { load_interactions(scratch_file("i8.txt", "u1 a b\n \nu2 c\n\n"), items, false); }),
                     "line 2: empty line");
  const auto neighbours = scratch_file("n-trailing.txt", "anchor top1\na b\n\n\n");
  EXPECT_EQ(load_neighbours(neighbours, items).by_anchor.size(), 1u);
  EXPECT_MESSAGE_HAS(input_error_of([&] { load_neighbours(scratch_file("n-blank.txt", "anchor top1\n\na b\n"), items); }),
                     "line 2: empty line");
}

// ---------------------------------------------------------------- TID and neighbour errors

TEST(TidErrors, ListThatIsNotFiveStringsNamesTheItem) {
  ItemTable items;
  const auto four = scratch_file("t1.json", R"({"1": ["a","b","c","d","e"], "2": ["a","b","c","d"]})");
  EXPECT_MESSAGE_HAS(input_error_of([&] { load_tids(four, items, false); }),
                     "item \"2\": expected a list of 5 strings, got [\"a\",\"b\",\"c\",\"d\"]");
  const auto number = scratch_file("t2.json", R"({"1": ["a","b","c","d",5]})");
  EXPECT_MESSAGE_HAS(input_error_of([&] { load_tids(number, items, false); }), "item \"1\": expected a list of 5 strings");
}

TEST(TidErrors, AWordTheParserCannotReadBackNamesFileItemAndWord) {
  ItemTable items;
  const auto file = scratch_file("t4.json", R"({"1": ["a","b","c","d","e"], "2": ["a","]","c","d","e"]})");
  EXPECT_MESSAGE_HAS(input_error_of([&] { load_tids(file, items, false); }),
                     file.string() + ": item \"2\": word 2 \"]\": the word holds ']', a delimiter of the TID line");
  EXPECT_MESSAGE_HAS(input_error_of([&] { load_tids(scratch_file("t5.json", R"({"7": ["a","b","","d","e"]})"), items, false); }),
                     "item \"7\": word 3 \"\": the word is empty");
  // Released words such as these load as they are.
  const TidTable released = load_tids(scratch_file("t6.json", R"({"1": ["1:53-scale","5.3:1","1:1","4.2-oz.","l'oreal"]})"),
                                      items, false);
  EXPECT_EQ(released.tids[*items.find("1")][0], "1:53-scale");
}

TEST(TidErrors, ItemOutsideTheCatalogIsNamed) {
  ItemTable items;
  load_catalog(scratch_file("t3-catalog.json", R"({"1": {}})"), items);
  const auto file = scratch_file("t3.json", R"({"1": ["a","b","c","d","e"], "9": ["a","b","c","d","e"]})");
  EXPECT_MESSAGE_HAS(input_error_of([&] { load_tids(file, items, true); }), "item \"9\": not an item of the catalog");
}

TEST(NeighbourErrors, HeaderFieldCountAndUnknownIds) {
  ItemTable items;
  items.intern("a");
  items.intern("b");
  items.intern("c");
  EXPECT_MESSAGE_HAS(input_error_of([&] { load_neighbours(scratch_file("n1.txt", "a b c\n"), items); }),
                     "line 1: expected the header");
  EXPECT_MESSAGE_HAS(input_error_of([&] { load_neighbours(scratch_file("n2.txt", "anchor top1 top2\na b c\nb a\n"), items); }),
                     "line 3: expected the anchor and 2 neighbours, got 2 fields");
  EXPECT_MESSAGE_HAS(input_error_of([&] { load_neighbours(scratch_file("n3.txt", "anchor top1\na q\n"), items); }),
                     "line 2: unknown item id \"q\"");
}

TEST(Utf8, ValidatorRejectsOverlongSurrogatesAndTruncation) {
  EXPECT_FALSE(find_invalid_utf8("plain ascii, caf\xC3\xA9, \xF0\x9F\x98\x80").has_value());
  EXPECT_EQ(find_invalid_utf8("ab\xC0\xAF"), 2u);           // overlong '/'
  EXPECT_EQ(find_invalid_utf8("\xED\xA0\x80"), 0u);         // UTF-16 surrogate
  EXPECT_EQ(find_invalid_utf8("x\xE2\x82"), 1u);            // truncated sequence
  EXPECT_EQ(find_invalid_utf8("\xF4\x90\x80\x80"), 0u);     // above U+10FFFF
}

}  // namespace
}  // namespace grlm
