// Tokenizer: byte-exact parity with the Hugging Face `tokenizers` library on the real Qwen3
// tokenizer over the oracle corpus (>= 20,000 strings), plus rules checked by hand.
#include <gtest/gtest.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "grlm/core/error.hpp"
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
