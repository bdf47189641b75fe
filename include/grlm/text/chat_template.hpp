// Chat templates of the ChatML family (Qwen2, Qwen2.5, Qwen3 and its Instruct-2507 variant),
// rendered exactly as transformers' apply_chat_template renders the template text of the
// checkpoint. The family's variations are read from the template text; a template of another
// family is refused with a clear message rather than rendered approximately.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace grlm {

struct ChatMessage {
  std::string role;  // "system" | "user" | "assistant"
  std::string content;
};

struct ChatOptions {
  bool add_generation_prompt = true;     // end with the assistant's turn opened
  std::optional<bool> enable_thinking;   // Qwen3: false adds an empty think block to the prompt
};

class ChatTemplate {
 public:
  // `template_text` is the Jinja source; `source` names it in errors.
  static ChatTemplate from_template_text(const std::string& template_text, const std::string& source);
  // The "chat_template" of a tokenizer_config.json, or of a folder holding one (or a
  // chat_template.jinja beside it).
  static ChatTemplate load(const std::filesystem::path& path);
  // Plain ChatML (no default system turn, no thinking): the format of models without a template
  // of their own, e.g. the from-scratch word-level ones.
  static ChatTemplate chatml();

  // The markers that open and close a turn ("<|im_start|>", "<|im_end|>" in this family); a turn
  // ends with end_of_turn() and a newline. A trained answer ends with end_of_turn(): it is the
  // token generation stops at.
  const std::string& start_of_turn() const { return turn_start_; }
  const std::string& end_of_turn() const { return turn_end_; }

  std::string render(const std::vector<ChatMessage>& messages, const ChatOptions& options = {}) const;
  const std::string& family() const { return family_; }  // "qwen3", "qwen2.5", "qwen2", "chatml"

 private:
  ChatTemplate() = default;  // through chatml(), load() or from_template_text() only: markers set

  std::string family_;
  std::string turn_start_;
  std::string turn_end_;
  std::optional<std::string> default_system_;  // system turn added when the first message is not one
  bool splits_thinking_ = false;               // assistant turns after the last user turn get a think block
  bool has_thinking_switch_ = false;           // template reads enable_thinking
  std::string source_;
};

}  // namespace grlm
