// Tokenizer: byte-exact parity with the Hugging Face `tokenizers` library on the real Qwen3
// tokenizer over the oracle corpus (>= 20,000 strings), plus rules checked by hand.
#include <gtest/gtest.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "grlm/core/error.hpp"
#include "grlm/data/text_file.hpp"
#include "grlm/text/tokenizer.hpp"
#include "test_support.hpp"

namespace grlm {
namespace {

std::filesystem::path qwen3_tokenizer() {
  return test::shared_data("../models/qwen3-tokenizer/tokenizer.json");
}

std::vector<nlohmann::json> read_jsonl(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::vector<nlohmann::json> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(nlohmann::json::parse(line));
  return lines;
}

std::filesystem::path oracle_file(const char* name) {
  const char* dir = std::getenv("GRLM_TOKENIZER_ORACLE_DIR");
  return std::filesystem::path(dir ? dir : GRLM_TEST_BINARY_DIR "/test-scratch/tokenizer-oracle") / name;
}

TEST(TokenizerParity, Qwen3IdsAndDecodingEqualTheTokenizersLibrary) {
  const Tokenizer tokenizer = Tokenizer::load(qwen3_tokenizer());
  const auto corpus = read_jsonl(oracle_file("corpus.jsonl"));
  const auto expected = read_jsonl(oracle_file("expected.jsonl"));
  ASSERT_GE(corpus.size(), 20000u) << "the oracle corpus must hold at least 20,000 strings";
  ASSERT_EQ(corpus.size(), expected.size());
  std::vector<std::string> texts;
  for (const auto& line : corpus) texts.push_back(line.get<std::string>());
  size_t id_mismatches = 0;
  size_t decode_mismatches = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    const std::vector<TokenId> ids = tokenizer.encode(texts[i]);
    const auto expected_ids = expected[i]["ids"].get<std::vector<TokenId>>();
    if (ids != expected_ids && ++id_mismatches <= 5) {
      ADD_FAILURE() << "ids differ for line " << i + 1 << ": " << nlohmann::json(texts[i]).dump().substr(0, 200);
    }
    if (tokenizer.decode(expected_ids) != expected[i]["decoded"].get<std::string>() ||
        tokenizer.decode(expected_ids, true) != expected[i]["decoded_skip_special"].get<std::string>()) {
      if (++decode_mismatches <= 5) ADD_FAILURE() << "decoding differs for line " << i + 1;
    }
  }
  EXPECT_EQ(id_mismatches, 0u);
  EXPECT_EQ(decode_mismatches, 0u);
  // Batch encoding on several threads gives the same ids in the same order.
  const auto batch = tokenizer.encode_batch(texts, false, 4);
  for (size_t i = 0; i < texts.size(); ++i) ASSERT_EQ(batch[i], expected[i]["ids"].get<std::vector<TokenId>>()) << i;
}

TEST(Tokenizer, Qwen3KnownIdsWrittenOut) {
  const Tokenizer tokenizer = Tokenizer::load(qwen3_tokenizer());
  EXPECT_EQ(tokenizer.encode("Hello world!"), (std::vector<TokenId>{9707, 1879, 0}));
  EXPECT_EQ(tokenizer.encode("<|im_start|>user\n"), (std::vector<TokenId>{151644, 872, 198}));
  EXPECT_EQ(tokenizer.token_to_id("<|im_end|>"), 151645);
  EXPECT_EQ(tokenizer.id_to_token(151643), "<|endoftext|>");
  EXPECT_EQ(tokenizer.vocab_size(), 151669u);
  EXPECT_EQ(tokenizer.model_type(), "BPE");
  EXPECT_EQ(tokenizer.decode({151644, 872, 198, 9707}, true), "user\nHello");
}

TEST(Utf8Repair, InvalidBytesBecomeReplacementCharactersAsInPython) {
  EXPECT_EQ(to_valid_utf8("ok"), "ok");
  EXPECT_EQ(to_valid_utf8("a\xFF" "b"), "a\xEF\xBF\xBD" "b");
  EXPECT_EQ(to_valid_utf8("\xE2\x82"), "\xEF\xBF\xBD");                  // truncated: one U+FFFD
  EXPECT_EQ(to_valid_utf8("\xF0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD");      // F0 80 is never valid: two
  EXPECT_EQ(to_valid_utf8("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
  EXPECT_EQ(to_valid_utf8("caf\xC3\xA9"), "caf\xC3\xA9");
}

// A tiny word-level tokenizer written out by hand, to check added-token rules.
Tokenizer tiny_tokenizer(const std::string& added_tokens) {
  const std::string json = R"({
    "version": "1.0",
    "normalizer": {"type": "Lowercase"},
    "pre_tokenizer": {"type": "WhitespaceSplit"},
    "model": {"type": "WordLevel", "unk_token": "<unk>",
              "vocab": {"<unk>": 0, "hello": 1, "world": 2, "[x]": 3, "a": 4, "<s>": 5, "</s>": 6}},
    "post_processor": {"type": "TemplateProcessing",
      "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                 {"SpecialToken": {"id": "</s>", "type_id": 0}}],
      "special_tokens": {"<s>": {"id": "<s>", "ids": [5], "tokens": ["<s>"]},
                         "</s>": {"id": "</s>", "ids": [6], "tokens": ["</s>"]}}},
    "added_tokens": )" + added_tokens + "}";
  return Tokenizer::from_json(json, "tiny.json");
}

TEST(AddedTokens, MatchedBeforeNormalizationAndPreTokenization) {
  const Tokenizer tokenizer = tiny_tokenizer(R"([{"id": 7, "content": "[SEP]", "special": true}])");
  // "HELLO" is lowercased, "[SEP]" inside a word is still split out, unknown words are <unk>.
  EXPECT_EQ(tokenizer.encode("HELLO[SEP]world zzz"), (std::vector<TokenId>{1, 7, 2, 0}));
  EXPECT_EQ(tokenizer.encode("hello", true), (std::vector<TokenId>{5, 1, 6}));
  EXPECT_EQ(tokenizer.decode({1, 7, 2}), "hello [SEP] world");
  EXPECT_EQ(tokenizer.decode({1, 7, 2}, true), "hello world");
}

TEST(AddedTokens, SingleWordOnlyMatchesWholeWords) {
  const Tokenizer tokenizer =
      tiny_tokenizer(R"([{"id": 8, "content": "ab", "single_word": true, "normalized": false}])");
  EXPECT_EQ(tokenizer.encode("ab a"), (std::vector<TokenId>{8, 4}));
  EXPECT_EQ(tokenizer.encode("xab"), (std::vector<TokenId>{0}));  // inside a word: no match, "xab" is unknown
}

TEST(AddedTokens, LstripAndRstripAbsorbWhitespace) {
  const Tokenizer tokenizer = tiny_tokenizer(
      R"([{"id": 9, "content": "<m>", "lstrip": true, "rstrip": true, "normalized": false, "special": true}])");
  EXPECT_EQ(tokenizer.encode("hello   <m>   world"), (std::vector<TokenId>{1, 9, 2}));
}

template <class Action>
std::string error_of(Action&& action) {
  try {
    action();
  } catch (const std::exception& error) {
    return error.what();
  }
  return "(no error)";
}

TEST(TokenizerErrors, CorruptOrUnsupportedFilesNameTheField) {
  EXPECT_NE(error_of([] { Tokenizer::from_json("{\"model\": ", "broken.json"); }).find("broken.json: not valid JSON"),
            std::string::npos);
  const std::string unsupported = error_of([] {
    Tokenizer::from_json(R"({"normalizer": {"type": "BertNormalizer"}, "model": {"type": "WordLevel", "vocab": {}}})",
                         "bert.json");
  });
  EXPECT_NE(unsupported.find("bert.json: normalizer.type: normalizer 'BertNormalizer' is not supported"), std::string::npos)
      << unsupported;
  const std::string bad_merge = error_of([] {
    Tokenizer::from_json(R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": ["a b"]}})", "merge.json");
  });
  EXPECT_NE(bad_merge.find("merge.json: model.merges[0]"), std::string::npos) << bad_merge;
  const std::string nested = error_of([] {
    Tokenizer::from_json(R"({"pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "Split",
      "pattern": {"Regex": "(unclosed"}, "behavior": "Isolated"}]}, "model": {"type": "WordLevel", "vocab": {}}})",
                         "regex.json");
  });
  EXPECT_NE(nested.find("regex.json: pre_tokenizer.pretokenizers[0].pattern: regex /(unclosed/ does not compile"),
            std::string::npos)
      << nested;
  EXPECT_THROW(Tokenizer::load("/nonexistent/tokenizer.json"), InputError);
}

}  // namespace
}  // namespace grlm

namespace grlm {
namespace {

TEST(Batching, TruncateFromEitherSide) {
  std::vector<TokenId> right = {1, 2, 3, 4, 5};
  truncate(right, 3, Side::Right);
  EXPECT_EQ(right, (std::vector<TokenId>{1, 2, 3}));
  std::vector<TokenId> left = {1, 2, 3, 4, 5};
  truncate(left, 2, Side::Left);
  EXPECT_EQ(left, (std::vector<TokenId>{4, 5}));
  std::vector<TokenId> unlimited = {1, 2};
  truncate(unlimited, 0, Side::Right);
  EXPECT_EQ(unlimited, (std::vector<TokenId>{1, 2}));
}

TEST(Batching, PadLeftAndRightWithAttentionMask) {
  const std::vector<std::vector<TokenId>> sequences = {{7, 8, 9}, {5}};
  const PaddedBatch left = pad_batch(sequences, 0, Side::Left);
  EXPECT_EQ(left.columns, 3u);
  EXPECT_EQ(left.ids, (std::vector<TokenId>{7, 8, 9, 0, 0, 5}));
  EXPECT_EQ(left.attention_mask, (std::vector<uint8_t>{1, 1, 1, 0, 0, 1}));
  const PaddedBatch right = pad_batch(sequences, -1, Side::Right, 4);
  EXPECT_EQ(right.columns, 4u);
  EXPECT_EQ(right.ids, (std::vector<TokenId>{7, 8, 9, -1, 5, -1, -1, -1}));
  EXPECT_EQ(right.attention_mask, (std::vector<uint8_t>{1, 1, 1, 0, 1, 0, 0, 0}));
}

TEST(TokenizerConfigFile, Qwen3SpecialTokens) {
  const TokenizerConfig config = load_tokenizer_config(test::shared_data("../models/qwen3-tokenizer"));
  EXPECT_EQ(config.eos_token, "<|im_end|>");
  EXPECT_EQ(config.pad_token, "<|endoftext|>");
  EXPECT_FALSE(config.bos_token.has_value());
  EXPECT_TRUE(config.has_chat_template);
}

// Saves `json`, has the Hugging Face tokenizers library encode and decode `samples` with it
// (tests/oracle/tokenizer_oracle.py), and expects grlm's ids and decoded texts to be the same.
void expect_reference_encodes_alike(const std::string& name, const std::string& json, const Tokenizer& tokenizer,
                                    const std::vector<std::string>& samples) {
  const auto dir = std::filesystem::path(GRLM_TEST_BINARY_DIR) / "test-scratch" / name;
  std::filesystem::create_directories(dir);
  test::write_text(dir / "tokenizer.json", json);
  {
    std::ofstream out(dir / "corpus.jsonl");
    for (const std::string& sample : samples) out << nlohmann::json(sample).dump() << "\n";
  }
  const std::string command = std::string(GRLM_TEST_PYTHON) + " " + GRLM_TEST_SOURCE_DIR +
                              "/tests/oracle/tokenizer_oracle.py --tokenizer " + (dir / "tokenizer.json").string() +
                              " --corpus " + (dir / "corpus.jsonl").string() + " --out " + (dir / "expected.jsonl").string();
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  const auto expected = read_jsonl(dir / "expected.jsonl");
  ASSERT_EQ(expected.size(), samples.size());
  for (size_t i = 0; i < samples.size(); ++i) {
    EXPECT_EQ(tokenizer.encode(samples[i]), expected[i]["ids"].get<std::vector<TokenId>>()) << samples[i];
    EXPECT_EQ(tokenizer.decode(expected[i]["ids"].get<std::vector<TokenId>>()), expected[i]["decoded"].get<std::string>());
  }
}

TEST(WordLevelTokenizer, BuiltFromTidsAndTitlesEncodesAsTheTokenizersLibraryLoadsIt) {
  // Vocabulary: every TID term of the Beauty data, the format words, frequent title words.
  const auto tid_document = nlohmann::json::parse(read_file_bytes(test::shared_data("beauty/beauty_item_id2tid.json")));
  std::vector<std::string> required = {"item", "text", "id", ":", "[", "]", ",", "title", "none."};
  std::vector<std::string> corpus;
  for (const auto& [id, words] : tid_document.items()) {
    std::string line = "Item text ID: [";
    for (size_t k = 0; k < words.size(); ++k) {
      required.push_back(words[k].get<std::string>());
      line += (k ? ", " : "") + words[k].get<std::string>();
    }
    corpus.push_back(line + "] Title: None.");
  }
  const auto catalog = nlohmann::json::parse(read_file_bytes(test::shared_data("beauty/beauty.item.head.json")));
  for (const auto& [id, item] : catalog.items()) {
    corpus.push_back(item.value("title", ""));
    corpus.push_back(item.value("description", ""));
  }
  WordLevelSpec spec;
  spec.required_words = required;
  spec.phrases = {"Item text ID:", "Title: None."};
  spec.min_count = 3;
  const std::string json = build_word_level_tokenizer({corpus.begin(), corpus.end()}, spec);
  // Counted in three uneven parts (as ranks do), merged through the byte form: the same file.
  WordCounts merged;
  for (const auto& [first, last] : {std::pair<size_t, size_t>{0, 7}, {7, 1000}, {1000, corpus.size()}}) {
    WordCounts part;
    count_words({corpus.begin() + static_cast<std::ptrdiff_t>(first), corpus.begin() + static_cast<std::ptrdiff_t>(last)}, part);
    add_serialized_word_counts(serialize_word_counts(part), merged);
  }
  EXPECT_EQ(build_word_level_tokenizer_from_counts(merged, spec), json);
  EXPECT_THROW(add_serialized_word_counts(serialize_word_counts(merged).substr(0, 5), merged), Error);
  const Tokenizer tokenizer = Tokenizer::from_json(json, "word-level");
  EXPECT_EQ(tokenizer.model_type(), "WordLevel");
  EXPECT_EQ(tokenizer.token_to_id("<unk>"), 0);
  EXPECT_EQ(tokenizer.token_to_id("<|im_end|>"), 4);
  EXPECT_EQ(tokenizer.token_to_id("item text id:"), 5);  // the phrases follow the special tokens
  EXPECT_EQ(tokenizer.token_to_id("title: none."), 6);
  // A TID line is all known words and the two phrases: no <unk>.
  const std::vector<TokenId> ids = tokenizer.encode("Item text ID: [hair-mask, color-lock, citrus, protein, unisex] Title: None.\n");
  EXPECT_EQ(ids.size(), 13u);  // "item text id:" [ w1 , w2 , w3 , w4 , w5 ] "title: none."
  EXPECT_EQ(ids.front(), 5);
  EXPECT_EQ(ids.back(), 6);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), 0), 0);
  EXPECT_EQ(tokenizer.decode(ids), "item text id: [ hair-mask , color-lock , citrus , protein , unisex ] title: none.");
  // The TID alone (what constrained decoding spells) keeps its own tokens.
  EXPECT_EQ(tokenizer.encode("[hair-mask, color-lock, citrus, protein, unisex]"),
            std::vector<TokenId>(ids.begin() + 1, ids.end() - 1));

  // The tokenizers library loads the saved file and gives the same ids and decoded text.
  std::vector<std::string> samples(corpus.begin(), corpus.begin() + 2000);
  samples.insert(samples.end(), corpus.end() - 400, corpus.end());
  samples.push_back("Unknown WORDS zzqx <|im_start|>user\nÉlan vital — 100% [x]");
  samples.push_back("1. ITEM TEXT ID: [a, b] Title: None.\n2. Item text ID:[x] title: none.title: Nones. item text id");
  expect_reference_encodes_alike("word-level", json, tokenizer, samples);
}

TEST(WordLevelTokenizer, RequiredWordsTheSplitWouldCutStayOneTokenAsTheReferenceEncodesThem) {
  WordLevelSpec spec;
  spec.required_words = {"[", "]", ",", "two words", "1:53-scale", "5.3:1", "1:1", "scale", "Über:Maß"};
  EXPECT_THROW(build_word_level_tokenizer(std::vector<std::string_view>{}, WordLevelSpec{.required_words = {""}}), UsageError);
  const std::vector<std::string_view> corpus = {"ratio 1 : 1 scale", "x 53-scale"};
  const std::string json = build_word_level_tokenizer(corpus, spec);
  const Tokenizer tokenizer = Tokenizer::from_json(json, "whole words");
  const std::vector<TokenId> tid = tokenizer.encode("[two words, 1:53-scale, 5.3:1, 1:1, über:maß]");
  EXPECT_EQ(tid.size(), 11u);
  EXPECT_EQ(tid[1], tokenizer.token_to_id("two words"));
  EXPECT_EQ(tid[3], tokenizer.token_to_id("1:53-scale"));
  EXPECT_EQ(tid[9], tokenizer.token_to_id("über:maß"));
  // single_word: inside a longer word the added token does not match.
  EXPECT_EQ(tokenizer.encode("x1:1"), tokenizer.encode("x1 : 1"));

  expect_reference_encodes_alike("word-level-whole", json, tokenizer,
                                 {"[two words, 1:53-scale, 5.3:1, 1:1, ÜBER:MAß]", "x1:1 1:1x 1:1 (1:1) two  words",
                                  "two words1:53-scale 5.3:1.", "Item text ID: [1:1, scale]"});
}

}  // namespace
}  // namespace grlm

namespace grlm {
namespace {

// GPT-2 byte-level, Llama-style byte-fallback, Metaspace and WordLevel layouts trained by the
// tokenizers library (tests/oracle/tokenizer_variants.py): same ids, templates and decodings.
class TokenizerVariantParity : public ::testing::TestWithParam<const char*> {};

TEST_P(TokenizerVariantParity, IdsTemplatesAndDecodingEqualTheTokenizersLibrary) {
  const std::string name = GetParam();
  const Tokenizer tokenizer = Tokenizer::load(oracle_file("variants") / (name + ".json"));
  const auto expected = read_jsonl(oracle_file("variants") / (name + ".expected.jsonl"));
  ASSERT_GT(expected.size(), 4000u);
  size_t mismatches = 0;
  for (const auto& record : expected) {
    const std::string text = record["text"];
    const auto ids = record["ids"].get<std::vector<TokenId>>();
    const bool same = tokenizer.encode(text) == ids &&
                      tokenizer.encode(text, true) == record["ids_special"].get<std::vector<TokenId>>() &&
                      tokenizer.decode(ids) == record["decoded"].get<std::string>() &&
                      tokenizer.decode(ids, true) == record["decoded_skip_special"].get<std::string>();
    if (!same && ++mismatches <= 3) {
      ADD_FAILURE() << name << ": differs on " << nlohmann::json(text).dump().substr(0, 300) << "\nexpected ids "
                    << record["ids"].dump().substr(0, 300) << "\ngot ids      "
                    << nlohmann::json(tokenizer.encode(text)).dump().substr(0, 300) << "\nexpected text "
                    << record["decoded"].dump().substr(0, 200) << "\ngot text      "
                    << nlohmann::json(tokenizer.decode(ids)).dump().substr(0, 200);
    }
  }
  EXPECT_EQ(mismatches, 0u);
}

INSTANTIATE_TEST_SUITE_P(Layouts, TokenizerVariantParity, ::testing::Values("gpt2", "llama", "meta", "words", "llama3"));

}  // namespace
}  // namespace grlm
