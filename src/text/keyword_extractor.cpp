#include "grlm/text/keyword_extractor.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <set>
#include <unordered_set>

#include "grlm/text/words.hpp"

namespace grlm {
namespace {

const std::unordered_set<std::string>& stop_words() {
  static const std::unordered_set<std::string> words = {
      "a", "about", "above", "after", "again", "all", "also", "am", "an", "and", "any", "are", "as", "at", "be",
      "because", "been", "before", "being", "below", "best", "between", "both", "but", "by", "can", "could", "did",
      "do", "does", "doing", "down", "during", "each", "easy", "even", "every", "few", "for", "from", "further",
      "get", "gets", "give", "gives", "great", "had", "has", "have", "having", "he", "her", "here", "hers", "him",
      "his", "how", "i", "if", "in", "into", "is", "it", "its", "itself", "just", "keep", "keeps", "leave", "leaves",
      "let", "like", "made", "make", "makes", "many", "may", "me", "more", "most", "much", "must", "my", "new", "no",
      "nor", "not", "now", "of", "off", "on", "once", "one", "only", "or", "other", "our", "ours", "out", "over",
      "own", "per", "please", "product", "products", "quality", "same", "she", "should", "so", "some", "such",
      "than", "that", "the", "their", "them", "then", "there", "these", "they", "this", "those", "through", "to",
      "too", "two", "under", "until", "up", "us", "use", "used", "uses", "using", "very", "was", "way", "we", "well",
      "were", "what", "when", "where", "which", "while", "who", "whom", "why", "will", "with", "without", "would",
      "you", "your", "yours", "yourself", "amp", "reg", "quot", "nbsp", "trade", "br", "oz", "ounce", "ounces",
      "fl", "ml", "lb", "lbs", "pound", "pounds", "pcs", "pc", "pack", "count", "ct", "inch", "inches", "g", "kg",
      "mg", "mm", "cm", "x", "set", "piece", "pieces", "size", "item", "items", "day", "days", "time", "times",
      "help", "helps", "work", "works", "look", "looks", "feel", "feels", "perfect", "amazing", "ideal", "ever"};
  return words;
}

// Category levels that say nothing of the product type.
bool generic_category(const std::string& word) {
  static const std::unordered_set<std::string> words = {"set", "accessory", "tool", "care", "other", "kit", "and",
                                                        "beauty", "product", "supply", "men", "women", "personal"};
  return words.count(word) > 0;
}


bool keep_word(const std::string& word) {
  if (word.size() < 3 || stop_words().count(word)) return false;
  // Quantities ("250ml", "1oz", "22piece") say nothing of the product.
  if (std::isdigit(static_cast<unsigned char>(word.front()))) return false;
  return std::any_of(word.begin(), word.end(), [](char c) { return std::isalpha(static_cast<unsigned char>(c)) || (c & 0x80); }) &&
         !std::all_of(word.begin(), word.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
}

// The last level of the first category path, as words in base form.
std::vector<std::string> last_category_words(std::string_view categories) {
  std::string_view path = categories.substr(0, categories.find(" | "));
  const size_t last = path.rfind('>');
  if (last != std::string_view::npos) path = path.substr(last + 1);
  std::vector<std::string> words;
  for (const std::string& word : lowercase_words(path)) {
    const std::string base = base_form(word);
    if (!generic_category(base) && keep_word(base)) words.push_back(base);
  }
  return words;
}

// The title's main phrase: up to the first " for ", " with ", " by ", comma, dash, bracket.
std::string_view main_phrase(std::string_view title) {
  size_t end = title.size();
  for (std::string_view cut : {" for ", " For ", " with ", " With ", " by ", " By ", ",", " - ", "(", "[", "|", ":", " in ", " In "}) {
    const size_t at = title.find(cut);
    if (at != std::string_view::npos && at > 0) end = std::min(end, at);
  }
  return title.substr(0, end);
}

constexpr std::string_view kTypeKey = "\x01";  // document-count keys of product-type evidence

}  // namespace

std::string base_form(std::string_view word) {
  std::string w(word);
  const auto ends = [&](std::string_view suffix) { return w.size() > suffix.size() + 2 && w.compare(w.size() - suffix.size(), suffix.size(), suffix) == 0; };
  if (ends("ies")) return w.substr(0, w.size() - 3) + "y";
  if (ends("sses") || ends("shes") || ends("ches") || ends("xes") || ends("zes")) return w.substr(0, w.size() - 2);
  if (ends("ss") || ends("us") || ends("is")) return w;
  if (ends("s")) return w.substr(0, w.size() - 1);
  return w;
}

std::vector<std::string> content_words(std::string_view text) {
  std::vector<std::string> words;
  for (const std::string& word : lowercase_words(text)) {
    if (!keep_word(word)) continue;
    const std::string base = base_form(word);
    if (keep_word(base)) words.push_back(base);
  }
  return words;
}

void KeywordExtractor::count_documents(const std::vector<KeywordItem>& items) {
  for (const KeywordItem& item : items) {
    // Product-type evidence: category leaves and the last word of titles' main phrases.
    std::set<std::string> types;
    for (const std::string& word : last_category_words(item.categories)) types.insert(word);
    const std::vector<std::string> head = content_words(main_phrase(item.title));
    if (!head.empty()) types.insert(head.back());
    for (const std::string& word : types) ++document_counts_[std::string(kTypeKey) + word];
    std::set<std::string> unique;
    for (std::string& word : content_words(item.title)) unique.insert(std::move(word));
    for (std::string& word : content_words(item.description)) unique.insert(std::move(word));
    for (const std::string& word : unique) ++document_counts_[word];
    ++documents_;
  }
}

void KeywordExtractor::merge_counts(const std::unordered_map<std::string, int64_t>& counts, int64_t documents) {
  for (const auto& [word, count] : counts) document_counts_[word] += count;
  documents_ += documents;
}

std::vector<std::string> KeywordExtractor::candidates(const KeywordItem& item, const std::vector<KeywordItem>& neighbours) const {
  const std::vector<std::string> title = content_words(item.title);
  const std::vector<std::string> description = content_words(item.description);
  std::vector<std::string> result;
  // 1. The product type: in the title's main phrase, the rightmost word that names a product type
  // elsewhere in the catalog (a category leaf or another title's head noun); else the category's
  // leaf as the title names it; else the main phrase's last word.
  const auto type_evidence = [&](const std::string& word) {
    const auto found = document_counts_.find(std::string(kTypeKey) + word);
    return found == document_counts_.end() ? 0 : found->second;
  };
  const std::vector<std::string> head = content_words(main_phrase(item.title));
  const std::vector<std::string> category = last_category_words(item.categories);
  std::string type;
  for (auto word = head.rbegin(); word != head.rend() && type.empty(); ++word) {
    if (type_evidence(*word) >= 2 && !generic_category(*word)) type = *word;
  }
  for (auto word = category.rbegin(); word != category.rend() && type.empty(); ++word) {
    if (std::find(title.begin(), title.end(), *word) != title.end()) type = *word;
  }
  if (type.empty() && !head.empty()) type = head.back();
  if (type.empty() && !category.empty()) type = category.back();
  if (!type.empty()) result.push_back(type);
  // 2. Distinctive words: TF-IDF (title words count double), shared vocabulary favoured.
  std::map<std::string, double> frequency;
  for (const std::string& word : title) frequency[word] += 2.0;
  // Titles usually open with the brand, which tells little of what the product is.
  std::map<std::string, double> brand_penalty;
  const std::vector<std::string> opening = content_words(item.title.substr(0, std::min<size_t>(item.title.size(), 40)));
  if (title.size() >= 4) {
    if (!opening.empty()) brand_penalty[opening[0]] = 0.3;
    if (opening.size() > 1 && !brand_penalty.count(opening[1])) brand_penalty[opening[1]] = 0.6;
  }
  for (const std::string& word : description) frequency[word] += 1.0;
  std::map<std::string, int> shared;
  for (const KeywordItem& neighbour : neighbours) {
    std::set<std::string> words;
    for (std::string& word : content_words(neighbour.title)) words.insert(std::move(word));
    for (std::string& word : content_words(neighbour.description)) words.insert(std::move(word));
    for (const std::string& word : words) ++shared[word];
  }
  std::vector<std::pair<double, std::string>> ranked;
  for (const auto& [word, count] : frequency) {
    if (word == type) continue;
    const auto found = document_counts_.find(word);
    const double df = found == document_counts_.end() ? 0.0 : static_cast<double>(found->second);
    const double idf = std::log((1.0 + static_cast<double>(documents_)) / (1.0 + df)) + 1.0;
    const auto in_neighbours = shared.find(word);
    const double context = in_neighbours == shared.end() ? 1.0 : 1.0 + 0.25 * in_neighbours->second;
    const auto penalty = brand_penalty.find(word);
    ranked.emplace_back((1.0 + std::log(count)) * idf * context * (penalty == brand_penalty.end() ? 1.0 : penalty->second), word);
  }
  std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) { return a.first != b.first ? a.first > b.first : a.second < b.second; });
  std::vector<std::string> words;
  for (const auto& [score, word] : ranked) words.push_back(word);
  // Keep a word the similar items lack among the first four, so the TID tells the item apart.
  const auto distinctive = [&](const std::string& word) { return !shared.count(word); };
  if (words.size() > 4 && std::none_of(words.begin(), words.begin() + 4, distinctive)) {
    const auto first_distinctive = std::find_if(words.begin() + 4, words.end(), distinctive);
    if (first_distinctive != words.end()) std::rotate(words.begin() + 3, first_distinctive, first_distinctive + 1);
  }
  for (std::string& word : words) result.push_back(std::move(word));
  // 3. Too little text: the category path fills in.
  for (const std::string& word : content_words(item.categories)) {
    if (std::find(result.begin(), result.end(), word) == result.end()) result.push_back(word);
  }
  return result;
}

std::vector<std::array<std::string, 5>> choose_tids(const std::vector<std::vector<std::string>>& candidates,
                                                     const std::vector<std::string>& item_ids, uint64_t* collisions_before) {
  static const std::array<std::string, 5> kFallback = {"item", "product", "goods", "thing", "article"};
  std::set<std::array<std::string, 5>> taken;
  std::vector<std::array<std::string, 5>> tids(candidates.size());
  uint64_t collisions = 0;
  for (size_t i = 0; i < candidates.size(); ++i) {
    std::vector<std::string> words;
    for (const std::string& word : candidates[i]) {
      if (!word.empty() && std::find(words.begin(), words.end(), word) == words.end()) words.push_back(word);
    }
    for (const std::string& filler : kFallback) {
      if (words.size() >= 5) break;
      if (std::find(words.begin(), words.end(), filler) == words.end()) words.push_back(filler);
    }
    std::array<std::string, 5> tid;
    std::copy_n(words.begin(), 5, tid.begin());
    if (taken.count(tid)) {
      ++collisions;
      bool resolved = false;
      for (size_t position = 4; position >= 1 && !resolved; --position) {
        for (size_t next = 5; next < words.size() && !resolved; ++next) {
          std::array<std::string, 5> other = tid;
          other[position] = words[next];
          if (std::find(tid.begin(), tid.end(), words[next]) == tid.end() && !taken.count(other)) {
            tid = other;
            resolved = true;
          }
        }
      }
      if (!resolved) {
        std::string id;
        for (char c : item_ids[i]) id.push_back(std::isalnum(static_cast<unsigned char>(c)) ? static_cast<char>(std::tolower(static_cast<unsigned char>(c))) : '-');
        tid[4] = "id-" + id;
      }
    }
    taken.insert(tid);
    tids[i] = tid;
  }
  if (collisions_before) *collisions_before = collisions;
  return tids;
}

}  // namespace grlm
