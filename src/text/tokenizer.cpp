// Tokenizer: reads tokenizer.json, matches added tokens, and runs the pipeline of components.
#include "grlm/text/tokenizer.hpp"

#include <algorithm>
#include <atomic>
#include <thread>

#include "components.hpp"
#include "grlm/core/error.hpp"
#include "grlm/data/text_file.hpp"
#include "unicode.hpp"

namespace grlm {

using text::Json;

struct Tokenizer::Impl {
  std::string source;
  std::unique_ptr<text::Normalizer> normalizer;
  std::unique_ptr<text::PreTokenizer> pre_tokenizer;
  std::unique_ptr<text::Model> model;
  std::unique_ptr<text::PostProcessor> post_processor;
  std::unique_ptr<text::Decoder> decoder;
  std::vector<AddedToken> added;                        // in file order
  std::unordered_map<TokenId, size_t> added_by_id;      // id -> index in `added`
  std::unordered_map<std::string, TokenId> added_by_content;
  // Added tokens by their first byte, longest first, for leftmost-longest matching.
  std::array<std::vector<size_t>, 256> raw_by_first_byte;
  std::array<std::vector<size_t>, 256> normalized_by_first_byte;
  bool has_normalized_added = false;

  // One piece of input: either an added token's id, or text still to be tokenized.
  struct Piece {
    TokenId added_id;  // -1 for text
    std::string text;
  };

  std::vector<Piece> split_added(const std::string& input, const std::array<std::vector<size_t>, 256>& by_first_byte) const;
  void encode_text(const std::string& text, std::vector<TokenId>& ids) const;
  std::vector<TokenId> encode(std::string_view input, bool add_special_tokens) const;
};

namespace {

bool is_word_character(char32_t c) { return text::is_alphanumeric(c) || c == '_'; }

// The character that ends `text` (valid UTF-8, non-empty).
char32_t last_code_point(std::string_view text) {
  size_t start = text.size() - 1;
  while (start > 0 && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) --start;
  return text::next_code_point(text, start);
}

AddedToken parse_added_token(const Json& entry, const std::string& where) {
  AddedToken token;
  token.id = text::required(entry, "id", where).get<TokenId>();
  token.content = text::required(entry, "content", where).get<std::string>();
  token.special = entry.value("special", false);
  token.lstrip = entry.value("lstrip", false);
  token.rstrip = entry.value("rstrip", false);
  token.single_word = entry.value("single_word", false);
  token.normalized = entry.value("normalized", !token.special);
  if (token.content.empty()) throw Error(cat(where, ".content: an added token cannot be empty"));
  return token;
}

}  // namespace

std::vector<Tokenizer::Impl::Piece> Tokenizer::Impl::split_added(
    const std::string& input, const std::array<std::vector<size_t>, 256>& by_first_byte) const {
  std::vector<Piece> pieces;
  size_t text_start = 0;  // start of the text not yet emitted
  size_t position = 0;
  while (position < input.size()) {
    // Leftmost-longest: the longest added token that starts here, if any.
    const AddedToken* match = nullptr;
    for (size_t index : by_first_byte[static_cast<unsigned char>(input[position])]) {
      const AddedToken& candidate = added[index];
      if (input.compare(position, candidate.content.size(), candidate.content) == 0) {
        match = &candidate;
        break;
      }
    }
    if (match == nullptr) {
      position += text::utf8_length(static_cast<unsigned char>(input[position]));
      continue;
    }
    size_t start = position;
    size_t stop = position + match->content.size();
    if (match->single_word) {
      const bool word_before = start > 0 && is_word_character(last_code_point(std::string_view(input).substr(0, start)));
      size_t after = stop;
      const bool word_after = stop < input.size() && is_word_character(text::next_code_point(input, after));
      if (word_before || word_after) {
        position = stop;  // the matcher moves past a rejected match, as the reference's does
        continue;
      }
    }
    if (match->lstrip) {
      while (start > text_start) {
        size_t begin = start - 1;
        while (begin > text_start && (static_cast<unsigned char>(input[begin]) & 0xC0) == 0x80) --begin;
        size_t probe = begin;
        if (!text::is_whitespace(text::next_code_point(input, probe))) break;
        start = begin;
      }
    }
    if (match->rstrip) {
      while (stop < input.size()) {
        size_t probe = stop;
        if (!text::is_whitespace(text::next_code_point(input, probe))) break;
        stop = probe;
      }
    }
    if (start > text_start) pieces.push_back({-1, input.substr(text_start, start - text_start)});
    pieces.push_back({match->id, {}});
    text_start = stop;
    position = stop;
  }
  if (text_start < input.size()) pieces.push_back({-1, input.substr(text_start)});
  return pieces;
}

void Tokenizer::Impl::encode_text(const std::string& text, std::vector<TokenId>& ids) const {
  std::vector<std::string> pieces = {text};
  if (pre_tokenizer) pre_tokenizer->split(pieces);
  for (const std::string& piece : pieces) model->tokenize(piece, ids);
}

std::vector<TokenId> Tokenizer::Impl::encode(std::string_view input, bool add_special_tokens) const {
  const std::string valid = to_valid_utf8(input);
  std::vector<TokenId> ids;
  for (Piece& piece : split_added(valid, raw_by_first_byte)) {
    if (piece.added_id >= 0) {
      ids.push_back(piece.added_id);
      continue;
    }
    std::string normalized = normalizer ? normalizer->normalize(std::move(piece.text)) : std::move(piece.text);
    if (!has_normalized_added) {
      encode_text(normalized, ids);
      continue;
    }
    for (const Piece& inner : split_added(normalized, normalized_by_first_byte)) {
      if (inner.added_id >= 0) {
        ids.push_back(inner.added_id);
      } else {
        encode_text(inner.text, ids);
      }
    }
  }
  if (add_special_tokens && post_processor) post_processor->process(ids);
  return ids;
}

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

Tokenizer Tokenizer::load(const std::filesystem::path& path) {
  const std::filesystem::path file = std::filesystem::is_directory(path) ? path / "tokenizer.json" : path;
  return from_json(read_file_bytes(file), file.string());
}

Tokenizer Tokenizer::from_json(const std::string& json_text, const std::string& source_name) {
  Json spec;
  try {
    spec = Json::parse(json_text);
  } catch (const Json::parse_error& error) {
    throw InputError(cat(source_name, ": not valid JSON: ", error.what()));
  }
  if (!spec.is_object()) throw InputError(cat(source_name, ": expected a JSON object"));
  auto impl = std::make_unique<Impl>();
  impl->source = source_name;
  try {
    impl->normalizer = text::make_normalizer(spec.value("normalizer", Json()), source_name + ": normalizer");
    impl->pre_tokenizer = text::make_pre_tokenizer(spec.value("pre_tokenizer", Json()), source_name + ": pre_tokenizer");
    impl->model = text::make_model(text::required(spec, "model", source_name), source_name + ": model");
    impl->decoder = text::make_decoder(spec.value("decoder", Json()), source_name + ": decoder");
    const Json added = spec.value("added_tokens", Json::array());
    for (size_t i = 0; i < added.size(); ++i) {
      AddedToken token = parse_added_token(added[i], cat(source_name, ": added_tokens[", i, "]"));
      impl->added_by_id[token.id] = impl->added.size();
      impl->added_by_content[token.content] = token.id;
      impl->added.push_back(std::move(token));
    }
    impl->post_processor =
        text::make_post_processor(spec.value("post_processor", Json()), source_name + ": post_processor", impl->added_by_content);
  } catch (const InputError&) {
    throw;
  } catch (const Error& error) {
    throw InputError(error.what());
  } catch (const Json::exception& error) {
    throw InputError(cat(source_name, ": a field has the wrong type: ", error.what()));
  }
  std::vector<size_t> by_length(impl->added.size());
  for (size_t i = 0; i < by_length.size(); ++i) by_length[i] = i;
  std::stable_sort(by_length.begin(), by_length.end(), [&](size_t a, size_t b) {
    return impl->added[a].content.size() > impl->added[b].content.size();
  });
  for (size_t index : by_length) {
    const AddedToken& token = impl->added[index];
    auto& table = token.normalized ? impl->normalized_by_first_byte : impl->raw_by_first_byte;
    table[static_cast<unsigned char>(token.content[0])].push_back(index);
    impl->has_normalized_added = impl->has_normalized_added || token.normalized;
  }
  return Tokenizer(std::move(impl));
}

std::vector<TokenId> Tokenizer::encode(std::string_view text, bool add_special_tokens) const {
  return impl_->encode(text, add_special_tokens);
}

std::vector<std::vector<TokenId>> Tokenizer::encode_batch(const std::vector<std::string>& texts, bool add_special_tokens,
                                                          unsigned threads) const {
  std::vector<std::vector<TokenId>> results(texts.size());
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  threads = static_cast<unsigned>(std::min<size_t>(threads, std::max<size_t>(1, texts.size())));
  std::atomic<size_t> next{0};
  auto worker = [&]() {
    // Small blocks from a shared counter keep threads busy whatever the text lengths.
    constexpr size_t kBlock = 64;
    for (size_t start = next.fetch_add(kBlock); start < texts.size(); start = next.fetch_add(kBlock)) {
      const size_t end = std::min(texts.size(), start + kBlock);
      for (size_t i = start; i < end; ++i) results[i] = impl_->encode(texts[i], add_special_tokens);
    }
  };
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (std::thread& thread : pool) thread.join();
  return results;
}

std::string Tokenizer::decode(const std::vector<TokenId>& ids, bool skip_special_tokens) const {
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (TokenId id : ids) {
    if (const auto added = impl_->added_by_id.find(id); added != impl_->added_by_id.end()) {
      const AddedToken& token = impl_->added[added->second];
      if (skip_special_tokens && token.special) continue;
      tokens.push_back(token.content);
    } else if (const std::string* token = impl_->model->id_to_token(id)) {
      tokens.push_back(*token);
    }
  }
  if (!impl_->decoder) {
    std::string joined;
    for (size_t i = 0; i < tokens.size(); ++i) joined += (i > 0 ? " " : "") + tokens[i];
    return joined;
  }
  impl_->decoder->decode_chain(tokens);
  std::string joined;
  for (const std::string& token : tokens) joined += token;
  return joined;
}

std::optional<TokenId> Tokenizer::token_to_id(std::string_view token) const {
  if (const auto added = impl_->added_by_content.find(std::string(token)); added != impl_->added_by_content.end()) {
    return added->second;
  }
  return impl_->model->token_to_id(token);
}

std::optional<std::string> Tokenizer::id_to_token(TokenId id) const {
  if (const auto added = impl_->added_by_id.find(id); added != impl_->added_by_id.end()) {
    return impl_->added[added->second].content;
  }
  if (const std::string* token = impl_->model->id_to_token(id)) return *token;
  return std::nullopt;
}

size_t Tokenizer::vocab_size() const {
  size_t size = impl_->model->vocab_size();
  for (const AddedToken& token : impl_->added) size = std::max(size, static_cast<size_t>(token.id) + 1);
  return size;
}

const std::vector<AddedToken>& Tokenizer::added_tokens() const { return impl_->added; }

std::string_view Tokenizer::model_type() const { return impl_->model->type(); }

}  // namespace grlm
