#include "grlm/model/chat_generator.hpp"

#include <algorithm>

#include "grlm/model/checkpoint.hpp"
#include "grlm/model/generation.hpp"
#include "grlm/text/tokenizer.hpp"
#include "grlm/model/dtype.hpp"

namespace grlm {
namespace {

class CheckpointChat final : public ChatGenerator {
 public:
  CheckpointChat(const std::string& folder, Transformer model)
      : model_(std::move(model)),
        tokenizer_(Tokenizer::load(folder)),
        template_(ChatTemplate::load(folder)),
        defaults_(generation_defaults(folder, model_.config())) {}

  std::vector<int64_t> encode(const std::vector<ChatMessage>& conversation, const ChatGeneration& options) const {
    ChatOptions chat;
    chat.enable_thinking = options.enable_thinking;
    const std::vector<TokenId> ids = tokenizer_.encode(template_.render(conversation, chat), false);
    return std::vector<int64_t>(ids.begin(), ids.end());
  }

  size_t prompt_tokens(const std::vector<ChatMessage>& conversation, const ChatGeneration& options) const override {
    return encode(conversation, options).size();
  }

  std::vector<std::string> reply(const std::vector<std::vector<ChatMessage>>& conversations,
                                 const ChatGeneration& options) const override {
    std::vector<std::vector<int64_t>> prompts;
    for (const auto& conversation : conversations) prompts.push_back(encode(conversation, options));
    GenerationOptions generation;
    generation.max_new_tokens = options.max_new_tokens;
    generation.do_sample = options.do_sample;
    generation.temperature = options.temperature;
    generation.top_p = options.top_p;
    generation.seed = options.seed;
    generation.eos_token_ids = defaults_.eos_token_ids;
    generation.pad_token_id = defaults_.pad_token_id;
    generation.compute_scores = false;
    const auto results = generate_in_batches(model_, prompts, generation, static_cast<size_t>(std::max<int64_t>(1, options.batch_size)));
    std::vector<std::string> replies;
    for (const auto& result : results) {
      const auto& tokens = result[0].tokens;
      replies.push_back(tokenizer_.decode(std::vector<TokenId>(tokens.begin(), tokens.end()), true));
    }
    return replies;
  }

 private:
  Transformer model_;
  Tokenizer tokenizer_;
  ChatTemplate template_;
  GenerationDefaults defaults_;
};

}  // namespace

std::unique_ptr<ChatGenerator> ChatGenerator::load(const std::string& folder, const Device& device, const std::string& dtype) {
  const LoadOptions options = load_options_on(device, dtype, "LLM", folder);
  return std::make_unique<CheckpointChat>(folder, load_pretrained(folder, options));
}

}  // namespace grlm
