// Chat templates: the Qwen family rendered exactly as transformers' apply_chat_template renders
// the same template text (1-3 messages, with and without generation prompt and thinking switch).
#include <gtest/gtest.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "grlm/core/error.hpp"
#include "grlm/data/text_file.hpp"
#include "grlm/text/chat_template.hpp"
#include "grlm/text/sft_prompt.hpp"
#include "test_support.hpp"

namespace grlm {
namespace {

std::filesystem::path chat_oracle_dir() {
  const char* dir = std::getenv("GRLM_CHAT_ORACLE_DIR");
  return dir ? dir : GRLM_TEST_BINARY_DIR "/test-scratch/chat-oracle";
}

TEST(ChatTemplateParity, QwenTemplatesRenderAsTransformersDoes) {
  std::map<std::string, ChatTemplate> templates;
  for (const char* name : {"qwen3", "qwen2", "qwen2.5"}) {
    const auto file = chat_oracle_dir() / (std::string(name) + ".jinja");
    templates.emplace(name, ChatTemplate::from_template_text(read_file_bytes(file), file.string()));
  }
  EXPECT_EQ(templates.at("qwen3").family(), "qwen3");
  EXPECT_EQ(templates.at("qwen2").family(), "qwen2");
  EXPECT_EQ(templates.at("qwen2.5").family(), "qwen2.5");
  std::ifstream in(chat_oracle_dir() / "expected.jsonl");
  size_t checked = 0;
  size_t mismatches = 0;
  for (std::string line; std::getline(in, line);) {
    const auto record = nlohmann::json::parse(line);
    std::vector<ChatMessage> messages;
    for (const auto& message : record["messages"]) messages.push_back({message["role"], message["content"]});
    ChatOptions options;
    options.add_generation_prompt = record["add_generation_prompt"];
    if (!record["enable_thinking"].is_null()) options.enable_thinking = record["enable_thinking"].get<bool>();
    const std::string rendered = templates.at(record["template"]).render(messages, options);
    if (rendered != record["text"].get<std::string>() && ++mismatches <= 3) {
      ADD_FAILURE() << record["template"] << " " << record["messages"].dump() << "\nexpected:\n"
                    << record["text"].get<std::string>() << "\ngot:\n" << rendered;
    }
    ++checked;
  }
  EXPECT_GT(checked, 2000u);
  EXPECT_EQ(mismatches, 0u);
}

TEST(ChatTemplate, Qwen3PromptWithThinkingDisabledWrittenOut) {
  const ChatTemplate chat = ChatTemplate::load(test::shared_data("../models/qwen3-tokenizer"));
  EXPECT_EQ(chat.render({{"user", "Hi"}}, {true, false}),
            "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n");
}

// The SFT format's turn markers come from the tokenizer folder's template, or plain ChatML for a
// folder without one (the from-scratch word-level tokenizer); nothing else names them.
TEST(SftPrompt, PromptAnswerAndEndOfTurnFollowTheTokenizersTemplate) {
  const SftPrompt plain;
  EXPECT_EQ(plain.prompt("Recommend", "a b"), "<|im_start|>user\nRecommend\na b<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(plain.response("[x, y]"), "[x, y]<|im_end|>\n");
  EXPECT_EQ(plain.end_of_turn(), "<|im_end|>");
  EXPECT_EQ(ChatTemplate::chatml().start_of_turn(), "<|im_start|>");

  const SftPrompt qwen3 = SftPrompt::for_tokenizer_folder(test::shared_data("../models/qwen3-tokenizer"));
  EXPECT_EQ(qwen3.prompt("Hi", ""), "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n");
  EXPECT_EQ(qwen3.end_of_turn(), "<|im_end|>");

  const auto folder = test::scratch_dir("sft-prompt-no-template");
  write_file_atomically(folder / "tokenizer_config.json", R"({"eos_token": "<|im_end|>"})");
  EXPECT_EQ(SftPrompt::for_tokenizer_folder(folder).prompt("Hi", ""), plain.prompt("Hi", ""));
}

TEST(ChatTemplate, OtherFamiliesAreRefused) {
  try {
    ChatTemplate::from_template_text("{{ bos_token }}[INST] {{ messages[0]['content'] }} [/INST]", "llama.json");
    FAIL() << "expected a refusal";
  } catch (const InputError& error) {
    EXPECT_NE(std::string(error.what()).find("llama.json: the chat template is not of the ChatML family"),
              std::string::npos);
  }
}

}  // namespace
}  // namespace grlm
