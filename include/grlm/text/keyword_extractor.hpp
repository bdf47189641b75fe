// The built-in Term-ID extractor (no LLM): the product type first (from the category path, as
// the title names it), then the item's most distinctive words by TF-IDF over title and
// description, in base form, favouring words its similar items share (a common vocabulary)
// while keeping at least one word they lack (what tells it apart). Always five valid words;
// collisions are resolved by later candidates.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace grlm {

struct KeywordItem {
  std::string_view title;
  std::string_view description;
  std::string_view categories;  // "A > B > C" (several paths joined with " | ")
};

// Lowercased base-form content words of `text` (stop words, numbers and units left out).
std::vector<std::string> content_words(std::string_view text);
// "conditioners" -> "conditioner", "brushes" -> "brush", "berries" -> "berry".
std::string base_form(std::string_view word);

class KeywordExtractor {
 public:
  // Document frequencies of content words over the catalog (title and description).
  void count_documents(const std::vector<KeywordItem>& items);
  void merge_counts(const std::unordered_map<std::string, int64_t>& counts, int64_t documents);
  const std::unordered_map<std::string, int64_t>& document_counts() const { return document_counts_; }
  int64_t documents() const { return documents_; }

  // Candidates for one item, best first: the product type, then ranked words (10 or more when
  // the text has them, for collision resolution). `neighbours` are the similar items' texts.
  std::vector<std::string> candidates(const KeywordItem& item, const std::vector<KeywordItem>& neighbours) const;

 private:
  std::unordered_map<std::string, int64_t> document_counts_;
  int64_t documents_ = 0;
};

// Five words per item from candidate lists, in item order: the first five distinct candidates;
// when that 5-tuple was taken by an earlier item, later candidates replace words from the last
// position backwards; as a last resort the item id (lowercased) becomes the fifth word.
std::vector<std::array<std::string, 5>> choose_tids(const std::vector<std::vector<std::string>>& candidates,
                                                     const std::vector<std::string>& item_ids, uint64_t* collisions_before);

}  // namespace grlm
