// The built-in embedder (no model download): TF-IDF over words, word pairs and character
// n-grams, hashed into a fixed number of signed buckets, projected to a dense dimension by a
// fixed Gaussian random matrix (Johnson-Lindenstrauss: cosines are kept up to a small error),
// L2-normalised. Items of one kind share words and word pieces, so they end up neighbours.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace grlm {

struct LexicalEmbedderOptions {
  int64_t dim = 256;
  uint32_t buckets = 1u << 16;  // hashed feature space
  uint64_t seed = 42;           // of the projection matrix
  // Field weights: a title word says more about the product than a description word.
  double title_weight = 2.0;
  double categories_weight = 1.0;
  double description_weight = 0.5;
  double char_ngram_weight = 0.5;  // character 3- to 5-grams of words, relative to whole words
  double bigram_weight = 0.5;      // adjacent word pairs
};

struct ItemText {
  std::string_view title;
  std::string_view description;
  std::string_view categories;
};

class LexicalEmbedder {
 public:
  explicit LexicalEmbedder(LexicalEmbedderOptions options);

  // Document frequency per bucket of the given items (summed over ranks by the caller).
  std::vector<int32_t> document_frequencies(const std::vector<ItemText>& items) const;
  // Fixes the IDF weights from global document frequencies over `documents` items.
  void set_idf(const std::vector<int32_t>& document_frequencies, int64_t documents);
  // dim floats per item, L2-normalised (an item without any word gets a zero vector).
  std::vector<float> embed(const std::vector<ItemText>& items) const;
  int64_t dim() const { return options_.dim; }

 private:
  struct Feature {
    uint32_t bucket;
    float weight;  // signed
  };
  std::vector<Feature> features(const ItemText& item) const;

  LexicalEmbedderOptions options_;
  std::vector<float> projection_;  // buckets x dim
  std::vector<float> idf_;
};

}  // namespace grlm
