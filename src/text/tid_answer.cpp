#include "grlm/text/tid_answer.hpp"

#include <algorithm>
#include <cctype>

#include "grlm/core/error.hpp"
#include "grlm/data/dataset.hpp"
#include "unicode.hpp"

namespace grlm {
namespace {

std::string_view trim(std::string_view text) {
  const auto is_space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  return text;
}

// The part of the answer that holds the list.
std::string_view list_part(std::string_view answer) {
  const size_t open = answer.find('[');
  if (open != std::string_view::npos) {
    const size_t close = answer.find(']', open + 1);
    if (close != std::string_view::npos) return answer.substr(open + 1, close - open - 1);
  }
  size_t start = 0;
  while (start < answer.size()) {
    size_t end = answer.find('\n', start);
    if (end == std::string_view::npos) end = answer.size();
    const std::string_view line = trim(answer.substr(start, end - start));
    if (line.find(',') != std::string_view::npos) return line;
    start = end + 1;
  }
  return answer;
}

std::string replace_all(std::string text, std::string_view key, std::string_view value) {
  for (size_t at = text.find(key); at != std::string::npos; at = text.find(key, at + value.size())) {
    text.replace(at, key.size(), value);
  }
  return text;
}

}  // namespace

ParsedTid parse_tid_answer(std::string_view answer) {
  const std::string_view list = list_part(answer);
  std::vector<std::string_view> pieces;
  if (list.find(',') != std::string_view::npos) {
    size_t start = 0;
    while (start <= list.size()) {
      size_t end = list.find(',', start);
      if (end == std::string_view::npos) end = list.size();
      pieces.push_back(list.substr(start, end - start));
      start = end + 1;
    }
  } else {
    size_t start = 0;
    while (start < list.size()) {
      while (start < list.size() && std::isspace(static_cast<unsigned char>(list[start]))) ++start;
      size_t end = start;
      while (end < list.size() && !std::isspace(static_cast<unsigned char>(list[end]))) ++end;
      if (end > start) pieces.push_back(list.substr(start, end - start));
      start = end;
    }
  }
  ParsedTid parsed;
  for (std::string_view piece : pieces) {
    if (parsed.words.size() == 5) break;
    parsed.words.push_back(canonical_tid_word(piece));
  }
  parsed.valid = parsed.words.size() == 5 && std::none_of(parsed.words.begin(), parsed.words.end(), [](const std::string& w) {
                   return tid_word_problem(w).has_value();
                 });
  return parsed;
}

std::string canonical_tid_word(std::string_view raw) {
  // NFC and Unicode lowercase first, as the from-scratch word-level tokenizer normalises (and as
  // Python's str.lower() lowercases): a word reads the same from a TID file and from a model.
  const std::string lower = text::to_lowercase(text::normalize(raw, text::NormalForm::NFC));
  std::string result;
  bool pending_space = false;
  for (const char c : tid_word_trimmed(lower)) {
    if (std::isspace(static_cast<unsigned char>(c))) {
      pending_space = !result.empty();
      continue;
    }
    if (pending_space) result.push_back('-');
    pending_space = false;
    result.push_back(c);
  }
  return result;
}

std::string format_tid(const std::vector<std::string>& words) {
  std::string text = "[";
  for (size_t i = 0; i < words.size(); ++i) text += (i ? ", " : "") + words[i];
  return text + "]";
}

std::string cut_characters(std::string_view text, size_t characters) {
  size_t count = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) {
      if (count == characters) return std::string(text.substr(0, i)) + "...";
      ++count;
    }
  }
  return std::string(text);
}

std::string render_extract_prompt(std::string_view template_text, std::string_view title, std::string_view description,
                                  const std::vector<ContextItem>& context) {
  std::string context_text;
  for (const ContextItem& item : context) {
    char similarity[32];
    std::snprintf(similarity, sizeof(similarity), "%.3f", item.similarity);
    context_text += cat("- [", item.id, "] (similarity ", similarity, ") Title: ", item.title.empty() ? "None" : item.title,
                        " Description: ", cut_characters(item.description, 150), "\n");
  }
  if (context_text.empty()) context_text = "(none)\n";
  std::string prompt(template_text);
  prompt = replace_all(prompt, "{title}", title.empty() ? "None" : title);
  prompt = replace_all(prompt, "{description}", cut_characters(description, 150));
  prompt = replace_all(prompt, "{context}", context_text);
  return prompt;
}

std::string_view default_extract_template() {
  return R"(You are given a product and the 5 products most similar to it.

Product:
Title: {title}
Description: {description}

Similar products:
{context}
Give exactly five words that identify this product: base forms, most important first, covering in order the product type, its function, distinctive features, target audience and a unique selling point. Use the vocabulary of the similar products where it fits, but include one or two words that tell this product apart from them. Join a term of several words with '-'.
Answer only in this form: [w1, w2, w3, w4, w5])";
}

}  // namespace grlm
