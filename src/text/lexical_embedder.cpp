#include "grlm/text/lexical_embedder.hpp"

#include <algorithm>
#include <cmath>
#include <random>
#include <unordered_map>

#include <xxhash.h>

#include "grlm/core/error.hpp"
#include "grlm/text/words.hpp"

namespace grlm {
namespace {


enum FeatureKind : uint64_t { kWord = 1, kBigram = 2, kCharNgram = 3 };

uint64_t hash_of(FeatureKind kind, std::string_view text) { return XXH3_64bits_withSeed(text.data(), text.size(), kind); }

}  // namespace

LexicalEmbedder::LexicalEmbedder(LexicalEmbedderOptions options) : options_(options) {
  if (options_.dim < 1) throw UsageError("embed.dim must be at least 1");
  projection_.resize(static_cast<size_t>(options_.buckets) * static_cast<size_t>(options_.dim));
  std::mt19937_64 random(options_.seed);
  std::normal_distribution<float> normal(0.0f, 1.0f / std::sqrt(static_cast<float>(options_.dim)));
  for (float& value : projection_) value = normal(random);
  idf_.assign(options_.buckets, 1.0f);
}

std::vector<LexicalEmbedder::Feature> LexicalEmbedder::features(const ItemText& item) const {
  std::unordered_map<uint64_t, double> counts;  // hashed feature -> weighted count
  const auto add_field = [&](std::string_view text, double field_weight) {
    const std::vector<std::string> words = lowercase_words(text);
    for (size_t i = 0; i < words.size(); ++i) {
      const std::string& word = words[i];
      counts[hash_of(kWord, word)] += field_weight;
      if (i + 1 < words.size()) counts[hash_of(kBigram, word + ' ' + words[i + 1])] += field_weight * options_.bigram_weight;
      const std::string marked = "<" + word + ">";
      size_t pieces = 0;
      for (size_t n = 3; n <= 5; ++n) pieces += marked.size() >= n ? marked.size() - n + 1 : 0;
      if (pieces == 0) continue;
      // A word's pieces together weigh char_ngram_weight, whatever the word's length.
      const double piece_weight = field_weight * options_.char_ngram_weight / static_cast<double>(pieces);
      for (size_t n = 3; n <= 5; ++n) {
        for (size_t start = 0; start + n <= marked.size(); ++start) counts[hash_of(kCharNgram, std::string_view(marked).substr(start, n))] += piece_weight;
      }
    }
  };
  add_field(item.title, options_.title_weight);
  add_field(item.categories, options_.categories_weight);
  add_field(item.description, options_.description_weight);
  std::vector<Feature> result;
  result.reserve(counts.size());
  for (const auto& [hash, count] : counts) {
    const uint32_t bucket = static_cast<uint32_t>(hash % options_.buckets);
    const float sign = (hash >> 63) ? -1.0f : 1.0f;  // signed hashing: collisions cancel on average
    result.push_back({bucket, sign * static_cast<float>(1.0 + std::log(1.0 + count))});
  }
  return result;
}

std::vector<int32_t> LexicalEmbedder::document_frequencies(const std::vector<ItemText>& items) const {
  std::vector<int32_t> frequencies(options_.buckets, 0);
  std::vector<uint32_t> seen;
  for (const ItemText& item : items) {
    seen.clear();
    for (const Feature& feature : features(item)) seen.push_back(feature.bucket);
    std::sort(seen.begin(), seen.end());
    seen.erase(std::unique(seen.begin(), seen.end()), seen.end());
    for (uint32_t bucket : seen) ++frequencies[bucket];
  }
  return frequencies;
}

void LexicalEmbedder::set_idf(const std::vector<int32_t>& document_frequencies, int64_t documents) {
  for (size_t bucket = 0; bucket < idf_.size(); ++bucket) {
    // Smoothed IDF, as scikit-learn's TfidfVectorizer: ln((1 + n) / (1 + df)) + 1.
    idf_[bucket] = static_cast<float>(std::log((1.0 + static_cast<double>(documents)) / (1.0 + document_frequencies[bucket])) + 1.0);
  }
}

std::vector<float> LexicalEmbedder::embed(const std::vector<ItemText>& items) const {
  const size_t dim = static_cast<size_t>(options_.dim);
  std::vector<float> vectors(items.size() * dim, 0.0f);
  for (size_t i = 0; i < items.size(); ++i) {
    std::vector<Feature> sparse = features(items[i]);
    double norm = 0;
    for (Feature& feature : sparse) {
      feature.weight *= idf_[feature.bucket];
      norm += static_cast<double>(feature.weight) * feature.weight;
    }
    if (norm == 0) continue;
    float* out = vectors.data() + i * dim;
    for (const Feature& feature : sparse) {
      const float* row = projection_.data() + static_cast<size_t>(feature.bucket) * dim;
      for (size_t j = 0; j < dim; ++j) out[j] += feature.weight * row[j];
    }
    double length = 0;
    for (size_t j = 0; j < dim; ++j) length += static_cast<double>(out[j]) * out[j];
    const float scale = length > 0 ? static_cast<float>(1.0 / std::sqrt(length)) : 0.0f;
    for (size_t j = 0; j < dim; ++j) out[j] *= scale;
  }
  return vectors;
}

}  // namespace grlm
