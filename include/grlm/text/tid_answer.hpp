// Term IDs from an LLM's answer, parsed and normalised exactly as the reference does
// (GRLM-SPEC.md stage 3, compat), and the prompt that asks for them.
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <vector>

namespace grlm {

struct ParsedTid {
  std::vector<std::string> words;  // at most five canonical words
  bool valid = false;              // five words, each one a TID file may hold (tid_word_problem)
};

// The first "[...]" group (else the first line that holds a comma-separated list, else the whole
// text); split on commas, or on whitespace when there is none; each piece made canonical; the
// first five.
ParsedTid parse_tid_answer(std::string_view answer);

// A word as the parser reads it: NFC, lowercased (Unicode), trimmed, quotes, brackets and
// . ; : ! ? stripped from its ends, inner whitespace joined with '-' ("Hair Mask" -> "hair-mask").
// Grounding compares TIDs in this form, so a TID file's word and the model's spelling of it meet.
std::string canonical_tid_word(std::string_view word);

// "[w1, w2, w3, w4, w5]"
std::string format_tid(const std::vector<std::string>& words);

// One of the (up to) 5 most similar items shown in the extraction prompt.
struct ContextItem {
  std::string id;
  double similarity = 0;
  std::string title;
  std::string description;
};

// Fills the template's {title}, {description}, {context} placeholders: descriptions cut to 150
// characters plus "...", similar items as "- [id] (similarity 0.873) Title: ... Description: ...".
std::string render_extract_prompt(std::string_view template_text, std::string_view title, std::string_view description,
                                  const std::vector<ContextItem>& context);

// The built-in template (configs/prompts/extract.txt holds the same text).
std::string_view default_extract_template();

// Cuts UTF-8 text to at most `characters` code points, adding "..." when it was longer.
std::string cut_characters(std::string_view text, size_t characters);

}  // namespace grlm
