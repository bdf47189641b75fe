// A chat checkpoint that answers conversations (extraction, evaluation prompts), declared without
// torch types: conversations in, generated texts out, prompts batched by length.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "grlm/core/device.hpp"
#include "grlm/text/chat_template.hpp"

namespace grlm {

struct ChatGeneration {
  int64_t max_new_tokens = 50;
  bool do_sample = false;
  double temperature = 1.0;
  double top_p = 1.0;
  uint64_t seed = 0;
  int64_t batch_size = 16;
  std::optional<bool> enable_thinking = false;
};

class ChatGenerator {
 public:
  // `dtype` "auto": bfloat16 on CUDA, float32 on the CPU.
  static std::unique_ptr<ChatGenerator> load(const std::string& folder, const Device& device, const std::string& dtype);
  virtual ~ChatGenerator() = default;
  // The assistant's reply to each conversation (special tokens removed).
  virtual std::vector<std::string> reply(const std::vector<std::vector<ChatMessage>>& conversations,
                                         const ChatGeneration& options) const = 0;
  // Prompt tokens of a conversation (for balancing work by length).
  virtual size_t prompt_tokens(const std::vector<ChatMessage>& conversation, const ChatGeneration& options) const = 0;
};

}  // namespace grlm
