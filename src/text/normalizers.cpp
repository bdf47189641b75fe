#include "components.hpp"
#include "grlm/core/error.hpp"
#include "regex.hpp"
#include "unicode.hpp"

namespace grlm::text {
namespace {

class UnicodeForm final : public Normalizer {
 public:
  explicit UnicodeForm(NormalForm form) : form_(form) {}
  std::string normalize(std::string text) const override { return text::normalize(text, form_); }

 private:
  NormalForm form_;
};

class Lowercase final : public Normalizer {
 public:
  std::string normalize(std::string text) const override { return to_lowercase(text); }
};

class StripAccents final : public Normalizer {
 public:
  std::string normalize(std::string text) const override { return strip_accents(text); }
};

class Strip final : public Normalizer {
 public:
  Strip(bool left, bool right) : left_(left), right_(right) {}
  std::string normalize(std::string text) const override {
    size_t start = 0;
    size_t end = text.size();
    if (left_) {
      while (start < end) {
        size_t next = start;
        if (!is_whitespace(next_code_point(text, next))) break;
        start = next;
      }
    }
    if (right_) {
      while (end > start) {
        size_t begin = end - 1;
        while (begin > start && (static_cast<unsigned char>(text[begin]) & 0xC0) == 0x80) --begin;
        size_t probe = begin;
        if (!is_whitespace(next_code_point(text, probe))) break;
        end = begin;
      }
    }
    return text.substr(start, end - start);
  }

 private:
  bool left_;
  bool right_;
};

class Prepend final : public Normalizer {
 public:
  explicit Prepend(std::string prefix) : prefix_(std::move(prefix)) {}
  std::string normalize(std::string text) const override { return text.empty() ? text : prefix_ + text; }

 private:
  std::string prefix_;
};

class Replace final : public Normalizer {
 public:
  Replace(const Json& spec, const std::string& where) : content_(required(spec, "content", where).get<std::string>()) {
    const Json& pattern = required(spec, "pattern", where);
    if (pattern.contains("String")) {
      literal_ = pattern["String"].get<std::string>();
    } else if (pattern.contains("Regex")) {
      regex_ = std::make_unique<Regex>(pattern["Regex"].get<std::string>(), where + ".pattern");
    } else {
      throw Error(cat(where, ".pattern: expected {\"String\": ...} or {\"Regex\": ...}"));
    }
  }
  std::string normalize(std::string text) const override {
    std::string out;
    size_t copied = 0;
    auto replace_range = [&](size_t start, size_t end) {
      out.append(text, copied, start - copied);
      out += content_;
      copied = end;
    };
    if (regex_) {
      for (const auto& [start, end] : regex_->find_all(text)) replace_range(start, end);
    } else if (!literal_.empty()) {
      for (size_t at = text.find(literal_); at != std::string::npos; at = text.find(literal_, at + literal_.size())) {
        replace_range(at, at + literal_.size());
      }
    }
    out.append(text, copied, std::string::npos);
    return out;
  }

 private:
  std::string content_;
  std::string literal_;
  std::unique_ptr<Regex> regex_;
};

class Sequence final : public Normalizer {
 public:
  explicit Sequence(std::vector<std::unique_ptr<Normalizer>> steps) : steps_(std::move(steps)) {}
  std::string normalize(std::string text) const override {
    for (const auto& step : steps_) text = step->normalize(std::move(text));
    return text;
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> steps_;
};

}  // namespace

std::unique_ptr<Normalizer> make_normalizer(const Json& spec, const std::string& where) {
  if (spec.is_null()) return nullptr;
  const std::string type = required(spec, "type", where).get<std::string>();
  if (type == "NFC") return std::make_unique<UnicodeForm>(NormalForm::NFC);
  if (type == "NFD") return std::make_unique<UnicodeForm>(NormalForm::NFD);
  if (type == "NFKC") return std::make_unique<UnicodeForm>(NormalForm::NFKC);
  if (type == "NFKD") return std::make_unique<UnicodeForm>(NormalForm::NFKD);
  if (type == "Lowercase") return std::make_unique<Lowercase>();
  if (type == "StripAccents") return std::make_unique<StripAccents>();
  if (type == "Strip") return std::make_unique<Strip>(spec.value("strip_left", true), spec.value("strip_right", true));
  if (type == "Prepend") return std::make_unique<Prepend>(required(spec, "prepend", where).get<std::string>());
  if (type == "Replace") return std::make_unique<Replace>(spec, where);
  if (type == "Sequence") return std::make_unique<Sequence>(make_steps(spec, "normalizers", where, make_normalizer));
  throw Error(cat(where, ".type: normalizer '", type,
                  "' is not supported (supported: NFC, NFD, NFKC, NFKD, Lowercase, StripAccents, Strip, "
                  "Prepend, Replace, Sequence)"));
}

std::string string_or(const Json& object, const char* key, const std::string& fallback) {
  const auto found = object.find(key);
  if (found == object.end() || found->is_null()) return fallback;
  return found->get<std::string>();
}

const Json& required(const Json& object, const char* key, const std::string& where) {
  if (!object.is_object() || !object.contains(key)) throw Error(cat(where, ": missing field '", key, "'"));
  return object[key];
}

}  // namespace grlm::text
