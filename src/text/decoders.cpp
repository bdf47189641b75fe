#include "components.hpp"
#include "grlm/core/error.hpp"
#include "unicode.hpp"

namespace grlm::text {
namespace {

class ByteLevelDecoder final : public Decoder {
 public:
  // Each token's characters back to bytes (a token with a character outside the map, such as
  // an added token, keeps its own bytes); invalid UTF-8 in the result becomes U+FFFD.
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::string bytes;
    for (const std::string& token : tokens) {
      std::string token_bytes;
      bool mapped = true;
      size_t position = 0;
      while (position < token.size()) {
        const std::optional<uint8_t> byte = unicode_to_byte(next_code_point(token, position));
        if (!byte) {
          mapped = false;
          break;
        }
        token_bytes.push_back(static_cast<char>(*byte));
      }
      bytes += mapped ? token_bytes : token;
    }
    tokens = {to_valid_utf8(bytes)};
  }
};

class ReplaceDecoder final : public Decoder {
 public:
  ReplaceDecoder(const Json& spec, const std::string& where) : content_(required(spec, "content", where).get<std::string>()) {
    const Json& pattern = required(spec, "pattern", where);
    if (!pattern.contains("String")) throw Error(cat(where, ".pattern: only {\"String\": ...} is supported in decoders"));
    pattern_ = pattern["String"].get<std::string>();
  }
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (std::string& token : tokens) {
      std::string out;
      size_t copied = 0;
      for (size_t at = token.find(pattern_); !pattern_.empty() && at != std::string::npos;
           at = token.find(pattern_, at + pattern_.size())) {
        out.append(token, copied, at - copied);
        out += content_;
        copied = at + pattern_.size();
      }
      out.append(token, copied, std::string::npos);
      token = std::move(out);
    }
  }

 private:
  std::string pattern_;
  std::string content_;
};

class ByteFallbackDecoder final : public Decoder {
 public:
  // Runs of <0xXX> tokens become the text of their bytes (U+FFFD per invalid byte run).
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::vector<std::string> out;
    std::string pending;
    bool in_bytes = false;
    auto flush = [&]() {
      if (!in_bytes) return;
      const std::string text = to_valid_utf8(pending);
      out.push_back(text == pending ? text : replacement_for(pending));
      pending.clear();
      in_bytes = false;
    };
    for (const std::string& token : tokens) {
      if (token.size() == 6 && token.starts_with("<0x") && token.back() == '>') {
        pending.push_back(static_cast<char>(std::stoi(token.substr(3, 2), nullptr, 16)));
        in_bytes = true;
      } else {
        flush();
        out.push_back(token);
      }
    }
    flush();
    tokens = std::move(out);
  }

 private:
  // The reference emits one U+FFFD per byte when a byte run is not valid UTF-8.
  static std::string replacement_for(const std::string& bytes) {
    std::string out;
    for (size_t i = 0; i < bytes.size(); ++i) out += "\xEF\xBF\xBD";
    return out;
  }
};

class FuseDecoder final : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::string joined;
    for (const std::string& token : tokens) joined += token;
    tokens = {joined};
  }
};

class StripDecoder final : public Decoder {
 public:
  StripDecoder(const Json& spec, const std::string& where)
      : content_(required(spec, "content", where).get<std::string>()),
        start_(spec.value("start", 0)),
        stop_(spec.value("stop", 0)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (std::string& token : tokens) {
      for (int i = 0; i < start_ && token.starts_with(content_); ++i) token.erase(0, content_.size());
      for (int i = 0; i < stop_ && token.ends_with(content_); ++i) token.erase(token.size() - content_.size());
    }
  }

 private:
  std::string content_;
  int start_;
  int stop_;
};

class MetaspaceDecoder final : public Decoder {
 public:
  explicit MetaspaceDecoder(const Json& spec)
      : replacement_(string_or(spec, "replacement", "\xE2\x96\x81")),
        strip_first_(string_or(spec, "prepend_scheme", spec.value("add_prefix_space", true) ? "always" : "never") != "never") {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (size_t i = 0; i < tokens.size(); ++i) {
      std::string out;
      const std::string& token = tokens[i];
      for (size_t at = 0; at < token.size();) {
        if (token.compare(at, replacement_.size(), replacement_) == 0) {
          out += ' ';
          at += replacement_.size();
        } else {
          out += token[at++];
        }
      }
      if (i == 0 && strip_first_ && out.starts_with(' ')) out.erase(0, 1);
      tokens[i] = std::move(out);
    }
  }

 private:
  std::string replacement_;
  bool strip_first_;
};

class SequenceDecoder final : public Decoder {
 public:
  explicit SequenceDecoder(std::vector<std::unique_ptr<Decoder>> steps) : steps_(std::move(steps)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (const auto& step : steps_) step->decode_chain(tokens);
  }

 private:
  std::vector<std::unique_ptr<Decoder>> steps_;
};

class TemplateProcessor final : public PostProcessor {
 public:
  TemplateProcessor(std::vector<TokenId> before, std::vector<TokenId> after)
      : before_(std::move(before)), after_(std::move(after)) {}
  void process(std::vector<TokenId>& ids) const override {
    ids.insert(ids.begin(), before_.begin(), before_.end());
    ids.insert(ids.end(), after_.begin(), after_.end());
  }

 private:
  std::vector<TokenId> before_;
  std::vector<TokenId> after_;
};

}  // namespace

std::unique_ptr<Decoder> make_decoder(const Json& spec, const std::string& where) {
  if (spec.is_null()) return nullptr;
  const std::string type = required(spec, "type", where).get<std::string>();
  if (type == "ByteLevel") return std::make_unique<ByteLevelDecoder>();
  if (type == "Replace") return std::make_unique<ReplaceDecoder>(spec, where);
  if (type == "ByteFallback") return std::make_unique<ByteFallbackDecoder>();
  if (type == "Fuse") return std::make_unique<FuseDecoder>();
  if (type == "Strip") return std::make_unique<StripDecoder>(spec, where);
  if (type == "Metaspace") return std::make_unique<MetaspaceDecoder>(spec);
  if (type == "Sequence") return std::make_unique<SequenceDecoder>(make_steps(spec, "decoders", where, make_decoder));
  throw Error(cat(where, ".type: decoder '", type,
                  "' is not supported (supported: ByteLevel, Replace, ByteFallback, Fuse, Strip, Metaspace, Sequence)"));
}

std::unique_ptr<PostProcessor> make_post_processor(const Json& spec, const std::string& where,
                                                   const std::unordered_map<std::string, TokenId>& special_ids) {
  if (spec.is_null()) return nullptr;
  const std::string type = required(spec, "type", where).get<std::string>();
  if (type == "ByteLevel") return nullptr;  // changes offsets only, never ids
  auto id_of = [&](const std::string& token) {
    const auto found = special_ids.find(token);
    if (found == special_ids.end()) throw Error(cat(where, ": special token '", token, "' is not defined"));
    return found->second;
  };
  if (type == "TemplateProcessing") {
    std::vector<TokenId> before;
    std::vector<TokenId> after;
    bool seen_sequence = false;
    const Json special_tokens = spec.value("special_tokens", Json::object());
    for (const Json& piece : required(spec, "single", where)) {
      if (piece.contains("Sequence")) {
        seen_sequence = true;
      } else if (piece.contains("SpecialToken")) {
        const std::string name = piece["SpecialToken"]["id"].get<std::string>();
        std::vector<TokenId>& side = seen_sequence ? after : before;
        if (special_tokens.contains(name) && special_tokens[name].contains("ids")) {
          for (const Json& id : special_tokens[name]["ids"]) side.push_back(id.get<TokenId>());
        } else {
          side.push_back(id_of(name));
        }
      }
    }
    return std::make_unique<TemplateProcessor>(std::move(before), std::move(after));
  }
  if (type == "BertProcessing" || type == "RobertaProcessing") {
    return std::make_unique<TemplateProcessor>(std::vector<TokenId>{required(spec, "cls", where)[1].get<TokenId>()},
                                               std::vector<TokenId>{required(spec, "sep", where)[1].get<TokenId>()});
  }
  if (type == "Sequence") {
    // ByteLevel steps change nothing; one template step at most adds tokens.
    std::unique_ptr<PostProcessor> result;
    const Json& list = required(spec, "processors", where);
    for (size_t i = 0; i < list.size(); ++i) {
      if (auto step = make_post_processor(list[i], cat(where, ".processors[", i, "]"), special_ids)) {
        if (result) throw Error(cat(where, ": more than one id-changing post-processor is not supported"));
        result = std::move(step);
      }
    }
    return result;
  }
  throw Error(cat(where, ".type: post-processor '", type,
                  "' is not supported (supported: ByteLevel, TemplateProcessing, BertProcessing, RobertaProcessing, Sequence)"));
}

}  // namespace grlm::text
