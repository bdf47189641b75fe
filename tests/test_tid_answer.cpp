// Parsing LLM answers into Term IDs by the reference's rules, the extraction prompt, and the
// built-in keyword extractor's building blocks.
#include <gtest/gtest.h>

#include "grlm/text/keyword_extractor.hpp"
#include "grlm/text/tid_answer.hpp"

namespace grlm {
namespace {

using Words = std::vector<std::string>;

TEST(TidAnswer, ParsesTheFirstBracketGroup) {
  const ParsedTid parsed = parse_tid_answer("Sure! Here it is: [Shampoo, repair, keratin, women, salon] [a, b, c, d, e]");
  EXPECT_TRUE(parsed.valid);
  EXPECT_EQ(parsed.words, (Words{"shampoo", "repair", "keratin", "women", "salon"}));
}

TEST(TidAnswer, BracketGroupInsideProse) {
  const ParsedTid parsed = parse_tid_answer("The five words are [hair mask, color lock, citrus, protein, unisex] as asked.");
  EXPECT_EQ(parsed.words, (Words{"hair-mask", "color-lock", "citrus", "protein", "unisex"}));
  EXPECT_TRUE(parsed.valid);
}

TEST(TidAnswer, NoBracketsUsesTheListLineOrTheWholeText) {
  EXPECT_EQ(parse_tid_answer("Here you go:\nsoap, raw, ghana, deep clean, traditional\nThanks").words,
            (Words{"soap", "raw", "ghana", "deep-clean", "traditional"}));
  const ParsedTid spaces = parse_tid_answer("lipstick matte red women long-lasting");
  EXPECT_EQ(spaces.words, (Words{"lipstick", "matte", "red", "women", "long-lasting"}));
  EXPECT_TRUE(spaces.valid);
}

TEST(TidAnswer, StripsQuotesBracketsAndCase) {
  const ParsedTid parsed = parse_tid_answer("[\"Serum\", 'Vitamin C', `Brightening`, (Adults), \"Organic.\"]");
  EXPECT_EQ(parsed.words, (Words{"serum", "vitamin-c", "brightening", "adults", "organic"}));
  EXPECT_TRUE(parsed.valid);
}

TEST(TidAnswer, FewerOrMoreThanFiveWords) {
  const ParsedTid few = parse_tid_answer("[cream, face, night]");
  EXPECT_FALSE(few.valid);
  EXPECT_EQ(few.words.size(), 3u);
  const ParsedTid many = parse_tid_answer("[a1, b2, c3, d4, e5, f6, g7]");
  EXPECT_TRUE(many.valid);
  EXPECT_EQ(many.words, (Words{"a1", "b2", "c3", "d4", "e5"}));
  const ParsedTid empty_word = parse_tid_answer("[cream, , face, night, men]");
  EXPECT_FALSE(empty_word.valid);
}

TEST(TidAnswer, EmptyAnswerIsInvalid) {
  EXPECT_FALSE(parse_tid_answer("").valid);
  EXPECT_FALSE(parse_tid_answer("   \n ").valid);
  EXPECT_FALSE(parse_tid_answer("[]").valid);
}

TEST(TidAnswer, FormatsAndCutsDescriptions) {
  EXPECT_EQ(format_tid({"a", "b", "c", "d", "e"}), "[a, b, c, d, e]");
  EXPECT_EQ(cut_characters("short", 150), "short");
  EXPECT_EQ(cut_characters("héllo wörld", 5), "héllo...");
  const std::string prompt = render_extract_prompt("T={title} D={description}\n{context}", "Mask", std::string(200, 'x'),
                                                   {{"42", 0.87349, "Cream", "Rich"}});
  EXPECT_NE(prompt.find("T=Mask D=" + std::string(150, 'x') + "..."), std::string::npos) << prompt;
  EXPECT_NE(prompt.find("- [42] (similarity 0.873) Title: Cream Description: Rich"), std::string::npos) << prompt;
}

TEST(KeywordExtractor, BaseFormsAndContentWords) {
  EXPECT_EQ(base_form("conditioners"), "conditioner");
  EXPECT_EQ(base_form("brushes"), "brush");
  EXPECT_EQ(base_form("berries"), "berry");
  EXPECT_EQ(base_form("gloss"), "gloss");
  EXPECT_EQ(content_words("The Best 250ml Shampoos for Dry Hair, 6.7 oz"), (Words{"shampoo", "dry", "hair"}));
}

TEST(KeywordExtractor, ProductTypeFirstAlwaysFiveWordsNoCollisions) {
  const std::vector<KeywordItem> items = {
      {"Acme Restructuring Hair Mask for Dry Hair", "A mask with keratin and argan oil.", "Beauty > Hair Care > Conditioners"},
      {"Acme Restructuring Hair Mask for Dry Hair", "A mask with keratin and argan oil.", "Beauty > Hair Care > Conditioners"},
      {"Zenith Matte Lipstick", "", "Beauty > Makeup > Lips > Lipstick"},
      {"", "", ""}};
  KeywordExtractor extractor;
  extractor.count_documents(items);
  std::vector<std::vector<std::string>> candidates;
  for (const KeywordItem& item : items) candidates.push_back(extractor.candidates(item, {}));
  EXPECT_EQ(candidates[0].front(), "mask");
  EXPECT_EQ(candidates[2].front(), "lipstick");
  uint64_t collisions = 0;
  const auto tids = choose_tids(candidates, {"a", "b", "c", "d"}, &collisions);
  EXPECT_EQ(collisions, 1u);  // the duplicate item got another TID
  EXPECT_NE(tids[0], tids[1]);
  for (const auto& tid : tids) {
    for (const std::string& word : tid) EXPECT_FALSE(word.empty());
  }
}

}  // namespace
}  // namespace grlm
