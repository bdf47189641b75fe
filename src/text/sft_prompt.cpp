#include "grlm/text/sft_prompt.hpp"

#include "grlm/text/tokenizer.hpp"

namespace grlm {

SftPrompt SftPrompt::for_tokenizer_folder(const std::filesystem::path& folder) {
  SftPrompt renderer;
  if (std::filesystem::exists(folder / "tokenizer_config.json") && load_tokenizer_config(folder).has_chat_template) {
    renderer.chat_ = ChatTemplate::load(folder);
  }
  return renderer;
}

std::string SftPrompt::prompt(const std::string& instruction, const std::string& input) const {
  const std::string user = input.empty() ? instruction : instruction + "\n" + input;
  return chat_.render({{"user", user}}, {true, false});
}

WordLevelSpec from_scratch_vocabulary(const std::vector<Tid>& tids) {
  WordLevelSpec spec;
  spec.phrases = {"Item text ID:", "Title: None."};
  spec.required_words = {"item", "text", "id", ":", "[", "]", ",", "title", "none.", "user", "assistant"};
  for (const Tid& tid : tids) spec.required_words.insert(spec.required_words.end(), tid.begin(), tid.end());
  return spec;
}

}  // namespace grlm
