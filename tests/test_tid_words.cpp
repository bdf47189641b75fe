// Term-ID words from every character class a TID file may hold (GRLM-SPEC compat; released TIDs
// hold "1:53-scale", "5.3:1", "4.2-oz."): the loader's rule, and a property test that each such
// TID, through the from-scratch vocabulary, is one path of the decoding trie that the model
// writes exactly as trained and that grounds back to its item.
#include <algorithm>
#include <random>
#include <set>

#include <gtest/gtest.h>

#include "grlm/core/error.hpp"
#include "grlm/data/sft_tasks.hpp"
#include "grlm/eval/grounding.hpp"
#include "grlm/model/constrained.hpp"
#include "grlm/text/sft_prompt.hpp"
#include "grlm/text/tid_answer.hpp"
#include "grlm/text/tokenizer.hpp"

namespace grlm {
namespace {

// Pieces a word is built from, one list per character class.
const std::vector<std::vector<std::string>> kPieceClasses = {
    {"hair", "mask", "oil", "serum", "Lip", "UPPER", "scale", "oz", "ml", "ratio", "gloss", "pro"},  // ASCII letters
    {"1", "53", "5.3", "100", "4.2", "2024", "0"},                                                // digits, decimals
    {":", ".", "-", "/", "'", "%", "+", "&", "#", "_", "~", "@"},                                  // inner punctuation
    {"é", "ß", "Äpfel", "ñ", "çà", "Ωmega", "ı", "İstanbul", "ﬁ", "e\xCC\x81"},                    // other scripts, NFD
    {"中文", "日本語", "한국어", "Россия", "ελληνικά", "עברית", "हिन्दी"},                               // CJK, Cyrillic, RTL
    {"💄", "👩‍🦰", "✨", "🧴", "❤️", "🇫🇷"},                                                         // emoji, ZWJ, flags
};

// A word of 1-4 pieces from random classes, sometimes with an inner space, a trailing '.' or a
// leading quote-free apostrophe form; always a word tid_word_problem accepts.
std::string random_word(std::mt19937& random) {
  std::uniform_int_distribution<size_t> pieces(1, 4), klass(0, kPieceClasses.size() - 1), coin(0, 9);
  std::string word;
  const size_t count = pieces(random);
  for (size_t i = 0; i < count; ++i) {
    const auto& options = kPieceClasses[klass(random)];
    if (i > 0 && coin(random) == 0) word += ' ';
    word += options[std::uniform_int_distribution<size_t>(0, options.size() - 1)(random)];
  }
  if (coin(random) == 0) word += ".";
  if (tid_word_problem(word)) word = "w" + word + "w";  // e.g. "." or ":" alone
  return word;
}

TEST(TidWords, TheLoaderRuleRefusesOnlyWhatCannotBeReadBack) {
  for (const std::string word : {"1:53-scale", "5.3:1", "1:1", "4.2-oz.", "l'oreal", "50/50", "hair mask", "💄", "crème",
                                 "中文", "100%", "a.b.c", "c++", "#1", "'quoted'"}) {
    EXPECT_FALSE(tid_word_problem(word)) << word << ": " << tid_word_problem(word).value_or("");
  }
  for (const std::string word : std::vector<std::string>{"", " ", ",", "]", "[", "a,b", "[x", "x]", "...", "'\"", "a\nb",
                                                         std::string("a\x01", 2), "tab\there", "\xC2\x85", "\xFF"}) {
    EXPECT_TRUE(tid_word_problem(word)) << "accepted: " << word;
  }
  // The parser's validity is the loader's rule: what extract keeps, the loader reads back.
  EXPECT_TRUE(parse_tid_answer("[a, b, c, d, 1:53-scale]").valid);
  EXPECT_FALSE(parse_tid_answer("[a, b, c, d, x\x01y]").valid);
  EXPECT_EQ(canonical_tid_word(" Hair  Mask. "), "hair-mask");
  EXPECT_EQ(canonical_tid_word("ÄPFEL"), "äpfel");
  EXPECT_EQ(canonical_tid_word("e\xCC\x81"), "é");
}

// One TID per item, random words (a few TIDs shared, as collisions are in released data).
TidTable random_tids(std::mt19937& random, size_t items) {
  TidTable table;
  for (size_t item = 0; item < items; ++item) {
    Tid tid;
    for (std::string& word : tid) word = random_word(random);
    if (item % 17 == 16) tid = table.tids[item - 1];
    table.tids.push_back(tid);
    table.has.push_back(1);
  }
  return table;
}

TEST(TidWords, EveryTidIsOneTriePathThatGroundsToItsItem) {
  for (const unsigned seed : {1u, 2u, 3u, 4u}) {
    std::mt19937 random(seed);
    const TidTable tids = random_tids(random, 200);
    // A corpus of item lines, some titles holding TID words inside free text.
    std::vector<std::string> lines;
    for (size_t item = 0; item < tids.tids.size(); ++item) {
      const std::string title = "Title of " + tids.tids[(item * 7) % tids.tids.size()][item % 5] + " x" + std::to_string(item % 9);
      lines.push_back(item_line(tids.tids[item], &title));
    }
    const std::vector<std::string_view> corpus(lines.begin(), lines.end());
    WordLevelSpec spec = from_scratch_vocabulary(tids.tids);
    const Tokenizer tokenizer = Tokenizer::from_json(build_word_level_tokenizer(corpus, spec), "tid-words");
    const TokenId unknown = *tokenizer.token_to_id("<unk>");

    const Grounder grounder(tids.tids);
    std::vector<std::vector<int64_t>> sequences;
    for (const Tid& tid : grounder.distinct_tids()) {
      std::vector<int64_t> sequence;
      for (TokenId id : tokenizer.encode(" " + tid_text(tid))) sequence.push_back(id);
      sequences.push_back(sequence);
    }
    const TokenTrie trie(sequences);
    const std::vector<int64_t> end = {*tokenizer.token_to_id("title")};
    for (size_t item = 0; item < tids.tids.size(); ++item) {
      const Tid& tid = tids.tids[item];
      SCOPED_TRACE(cat("seed ", seed, ", item ", item, ": ", tid_text(tid)));
      const std::vector<TokenId> ids = tokenizer.encode(" " + tid_text(tid));
      EXPECT_EQ(std::count(ids.begin(), ids.end(), unknown), 0) << "a TID word is not in the vocabulary";
      EXPECT_EQ(ids.size(), 11u) << "each of the five words is one token";
      // The line the model is trained on spells the TID with the same tokens.
      const std::vector<TokenId> line = tokenizer.encode(lines[item]);
      EXPECT_NE(std::search(line.begin(), line.end(), ids.begin(), ids.end()), line.end());
      // Reachable in the trie, token by token, and ended by the end token.
      std::vector<int64_t> prefix;
      for (TokenId id : ids) {
        const std::vector<int64_t> allowed = trie.allowed_after(prefix, end);
        ASSERT_NE(std::find(allowed.begin(), allowed.end(), id), allowed.end()) << "token " << id << " after " << prefix.size();
        prefix.push_back(id);
      }
      const std::vector<int64_t> after = trie.allowed_after(prefix, end);
      EXPECT_NE(std::find(after.begin(), after.end(), end[0]), after.end());
      // What the model writes decodes, parses and grounds back to this item's TID.
      const std::vector<uint32_t> ranked = grounder.rank(tid_groups({tokenizer.decode(ids, true)}), 20);
      ASSERT_FALSE(ranked.empty());
      EXPECT_NE(std::find(ranked.begin(), ranked.end(), static_cast<uint32_t>(item)), ranked.end());
      EXPECT_EQ(tid_text(tids.tids[ranked[0]]), tid_text(tid));
    }
  }
}

}  // namespace
}  // namespace grlm
