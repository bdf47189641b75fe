// Words for the built-in lexical components (embedder, keyword extractor).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace grlm {

// Lowercased words: runs of ASCII letters and digits or of non-ASCII bytes (UTF-8 letters of
// other scripts stay whole); everything else separates.
std::vector<std::string> lowercase_words(std::string_view text);

}  // namespace grlm
