// The stages of a tokenizer.json (internal): each a small type behind one interface, chosen by
// the "type" field, as in the `tokenizers` library.
#pragma once

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "grlm/core/error.hpp"
#include "grlm/text/tokenizer.hpp"

namespace grlm::text {

using Json = nlohmann::json;

// `where` names the file and field for errors ("tokenizer.json: normalizer.normalizers[1]").
class Normalizer {
 public:
  virtual ~Normalizer() = default;
  virtual std::string normalize(std::string text) const = 0;
};
std::unique_ptr<Normalizer> make_normalizer(const Json& spec, const std::string& where);  // null: none

// Splits every piece into smaller pieces, in place and in order.
class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  virtual void split(std::vector<std::string>& pieces) const = 0;
};
std::unique_ptr<PreTokenizer> make_pre_tokenizer(const Json& spec, const std::string& where);

class Model {
 public:
  virtual ~Model() = default;
  virtual std::string_view type() const = 0;
  virtual void tokenize(std::string_view piece, std::vector<TokenId>& out) const = 0;
  virtual std::optional<TokenId> token_to_id(std::string_view token) const = 0;
  virtual const std::string* id_to_token(TokenId id) const = 0;
  virtual size_t vocab_size() const = 0;
};
std::unique_ptr<Model> make_model(const Json& spec, const std::string& where);

// Turns the decoded tokens into text pieces (joined with "" afterwards).
class Decoder {
 public:
  virtual ~Decoder() = default;
  virtual void decode_chain(std::vector<std::string>& tokens) const = 0;
};
std::unique_ptr<Decoder> make_decoder(const Json& spec, const std::string& where);

// Adds special tokens around one sequence (add_special_tokens=true).
class PostProcessor {
 public:
  virtual ~PostProcessor() = default;
  virtual void process(std::vector<TokenId>& ids) const = 0;
};
std::unique_ptr<PostProcessor> make_post_processor(const Json& spec, const std::string& where,
                                                   const std::unordered_map<std::string, TokenId>& special_ids);

// GPT-2's reversible map from bytes to printable characters (as UTF-8 strings) and back.
const std::array<std::string, 256>& byte_to_unicode();
std::optional<uint8_t> unicode_to_byte(char32_t c);

// The string field `key` of `object`; `fallback` when it is missing or null.
std::string string_or(const Json& object, const char* key, const std::string& fallback);

// The JSON field `key` of `object`, or an Error naming `where.key` when it is missing.
const Json& required(const Json& object, const char* key, const std::string& where);

// The steps of a "Sequence" component: each entry of spec[field] made by `make`, named
// "where.field[i]" in errors.
template <class Component>
std::vector<std::unique_ptr<Component>> make_steps(
    const Json& spec, const char* field, const std::string& where,
    std::unique_ptr<Component> (*make)(const Json&, const std::string&)) {
  std::vector<std::unique_ptr<Component>> steps;
  const Json& list = required(spec, field, where);
  for (size_t i = 0; i < list.size(); ++i) steps.push_back(make(list[i], cat(where, ".", field, "[", i, "]")));
  return steps;
}

}  // namespace grlm::text
