// How an instruction sample is shown to the model, shared by build-sft (training text) and
// evaluate (prompts): the user turn is the instruction and the input, rendered with the model's
// chat template (thinking off), or plain ChatML for word-level tokenizers and models without one.
// The answer ends with the template's end-of-turn marker: no format token is written elsewhere.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <utility>

#include "grlm/data/dataset.hpp"
#include "grlm/text/chat_template.hpp"
#include "grlm/text/tokenizer.hpp"

namespace grlm {

class SftPrompt {
 public:
  SftPrompt() : chat_(ChatTemplate::chatml()) {}
  // The chat template of a Hugging Face tokenizer folder (tokenizer_config.json), when it has one.
  static SftPrompt for_tokenizer_folder(const std::filesystem::path& folder);

  // The prompt up to the start of the assistant's answer.
  std::string prompt(const std::string& instruction, const std::string& input) const;
  // The answer text as trained: the output and the end-of-turn marker.
  std::string response(const std::string& output) const { return output + chat_.end_of_turn() + "\n"; }
  // The token a trained answer ends with (the model's end of sequence).
  const std::string& end_of_turn() const { return chat_.end_of_turn(); }

 private:
  ChatTemplate chat_;
};

// The word-level vocabulary of a model trained from scratch on the SFT text: every word of
// `tids` (the valid ones; whatever characters a word holds), the item line's format words, and its fixed
// phrases as one token each (a line is 13 tokens instead of 18: the model's work goes into the
// five terms). Corpus words by frequency come on top (build_word_level_tokenizer_from_counts).
WordLevelSpec from_scratch_vocabulary(const std::vector<Tid>& tids);

}  // namespace grlm
