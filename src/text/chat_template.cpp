#include "grlm/text/chat_template.hpp"

#include <nlohmann/json.hpp>

#include "grlm/core/error.hpp"
#include "grlm/data/text_file.hpp"

namespace grlm {
namespace {

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

std::string strip_newlines_left(std::string text) {
  const size_t start = text.find_first_not_of('\n');
  return start == std::string::npos ? std::string() : text.substr(start);
}

std::string strip_newlines_right(std::string text) {
  const size_t end = text.find_last_not_of('\n');
  return end == std::string::npos ? std::string() : text.substr(0, end + 1);
}

// Python's text.split(separator)[index] for index 0 and -1.
std::string first_part(const std::string& text, const std::string& separator) {
  return text.substr(0, text.find(separator));
}
std::string last_part(const std::string& text, const std::string& separator) {
  const size_t at = text.rfind(separator);
  return at == std::string::npos ? text : text.substr(at + separator.size());
}

// The ChatML family's turn markers: the only literals of the format.
constexpr const char* kChatMlTurnStart = "<|im_start|>";
constexpr const char* kChatMlTurnEnd = "<|im_end|>";

}  // namespace

ChatTemplate ChatTemplate::chatml() {
  ChatTemplate chat;
  chat.source_ = "built-in ChatML";
  chat.family_ = "chatml";
  chat.turn_start_ = kChatMlTurnStart;
  chat.turn_end_ = kChatMlTurnEnd;
  return chat;
}

ChatTemplate ChatTemplate::from_template_text(const std::string& template_text, const std::string& source) {
  if (!contains(template_text, kChatMlTurnStart) || !contains(template_text, kChatMlTurnEnd)) {
    throw InputError(cat(source, ": the chat template is not of the ChatML family (<|im_start|> ... <|im_end|>); "
                         "grlm renders the Qwen2/2.5/3 templates only"));
  }
  ChatTemplate chat = chatml();
  chat.source_ = source;
  chat.splits_thinking_ = contains(template_text, "</think>");
  chat.has_thinking_switch_ = contains(template_text, "enable_thinking");
  const std::string qwen25_system = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.";
  if (contains(template_text, qwen25_system)) {
    chat.default_system_ = qwen25_system;
    chat.family_ = "qwen2.5";
  } else if (contains(template_text, "system\\nYou are a helpful assistant.") ||
             contains(template_text, "system\nYou are a helpful assistant.")) {
    chat.default_system_ = "You are a helpful assistant.";
    chat.family_ = "qwen2";
  } else {
    chat.family_ = chat.splits_thinking_ ? "qwen3" : "chatml";
  }
  return chat;
}

ChatTemplate ChatTemplate::load(const std::filesystem::path& path) {
  const bool folder = std::filesystem::is_directory(path);
  const std::filesystem::path config_file = folder ? path / "tokenizer_config.json" : path;
  if (folder && std::filesystem::exists(path / "chat_template.jinja")) {
    return from_template_text(read_file_bytes(path / "chat_template.jinja"), (path / "chat_template.jinja").string());
  }
  const nlohmann::json config = nlohmann::json::parse(read_file_bytes(config_file), nullptr, false);
  if (config.is_discarded() || !config.is_object()) throw InputError(cat(config_file.string(), ": not a JSON object"));
  const auto found = config.find("chat_template");
  if (found == config.end() || found->is_null()) {
    throw InputError(cat(config_file.string(), ": no chat_template (the checkpoint is not a chat model)"));
  }
  if (found->is_string()) return from_template_text(found->get<std::string>(), config_file.string() + ": chat_template");
  if (found->is_array()) {  // named templates: [{"name": "default", "template": ...}, ...]
    for (const auto& entry : *found) {
      if (entry.value("name", "") == "default") {
        return from_template_text(entry.value("template", ""), config_file.string() + ": chat_template[default]");
      }
    }
  }
  throw InputError(cat(config_file.string(), ": chat_template: expected a string or a list with a 'default' entry"));
}

std::string ChatTemplate::render(const std::vector<ChatMessage>& messages, const ChatOptions& options) const {
  std::string out;
  const std::string open = turn_start_, close = turn_end_ + "\n";
  const bool leading_system = !messages.empty() && messages[0].role == "system";
  if (leading_system) {
    out += open + "system\n" + messages[0].content + close;
  } else if (default_system_) {
    out += open + "system\n" + *default_system_ + close;
  }
  // The last real user turn: assistant turns after it keep their reasoning (Qwen3).
  size_t last_query = messages.empty() ? 0 : messages.size() - 1;
  for (size_t i = messages.size(); i-- > 0;) {
    const ChatMessage& message = messages[i];
    const bool tool_response = message.content.starts_with("<tool_response>") && message.content.ends_with("</tool_response>");
    if (message.role == "user" && !tool_response) {
      last_query = i;
      break;
    }
  }
  for (size_t i = 0; i < messages.size(); ++i) {
    const ChatMessage& message = messages[i];
    if (message.role == "user" || (message.role == "system" && i > 0)) {
      out += open + message.role + "\n" + message.content + close;
    } else if (message.role == "assistant") {
      std::string content = message.content;
      std::string reasoning;
      if (splits_thinking_ && contains(content, "</think>")) {
        content = strip_newlines_left(last_part(message.content, "</think>"));
        reasoning = strip_newlines_left(last_part(strip_newlines_right(first_part(message.content, "</think>")), "<think>"));
      }
      if (splits_thinking_ && i > last_query && (i + 1 == messages.size() || !reasoning.empty())) {
        out += open + "assistant\n<think>\n" + strip_newlines_right(strip_newlines_left(reasoning)) +
               "\n</think>\n\n" + strip_newlines_left(content);
      } else {
        out += open + "assistant\n" + content;
      }
      out += close;
    } else if (message.role != "system") {
      throw UsageError(cat(source_, ": chat role '", message.role, "' is not supported (system, user, assistant)"));
    }
  }
  if (options.add_generation_prompt) {
    out += open + "assistant\n";
    if (has_thinking_switch_ && options.enable_thinking.has_value() && !*options.enable_thinking) {
      out += "<think>\n\n</think>\n\n";
    }
  }
  return out;
}

}  // namespace grlm
