// libFuzzer target: encode arbitrary bytes with the Qwen3 tokenizer and decode the ids, and decode
// arbitrary id sequences. Checks the byte-level round trip: decode(encode(x)) is x with invalid
// UTF-8 replaced and NFC applied. Any crash, sanitizer report or broken round trip aborts.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "../../src/text/unicode.hpp"
#include "grlm/text/tokenizer.hpp"

namespace {

const grlm::Tokenizer& tokenizer() {
  static const grlm::Tokenizer instance = [] {
    const char* path = std::getenv("GRLM_FUZZ_TOKENIZER");
    return grlm::Tokenizer::load(path ? path : "../shared/models/qwen3-tokenizer/tokenizer.json");
  }();
  return instance;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const std::vector<grlm::TokenId> ids = tokenizer().encode(text);
  const std::string decoded = tokenizer().decode(ids);
  const std::string expected = grlm::text::normalize(grlm::to_valid_utf8(text), grlm::text::NormalForm::NFC);
  if (decoded != expected) {
    std::fprintf(stderr, "round trip broken: %zu input bytes, %zu ids\n", size, ids.size());
    std::abort();
  }
  // Arbitrary ids, including ones outside the vocabulary, decode without harm.
  std::vector<grlm::TokenId> random_ids;
  for (size_t i = 0; i + 4 <= size; i += 4) {
    int32_t id = 0;
    __builtin_memcpy(&id, data + i, 4);
    random_ids.push_back(id % 160000);
  }
  tokenizer().decode(random_ids, size % 2 == 0);
  return 0;
}
