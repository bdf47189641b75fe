// A synthetic dataset in the spec's formats, deterministic by seed, of any size: a latent
// taxonomy (departments > product types, brands, attributes) that shows in titles, descriptions
// and categories, and users with sequential habits so that next-item prediction is learnable.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

namespace grlm {

struct SynthOptions {
  uint64_t items = 1000;          // catalog size
  uint64_t users = 2000;          // interaction lines
  uint64_t seed = 42;             // same seed, same files, byte for byte
  uint32_t min_history = 5;       // items per user, at least (like the 5-core Amazon sets)
  uint32_t max_history = 50;      // items per user, at most
  double mean_history = 8.7;      // mean items per user (Beauty: 8.71)
  double complement_rate = 0.45;  // chance the next item complements the last (shampoo -> conditioner)
  double brand_loyalty = 0.35;    // chance the next item keeps the last item's brand
  double drift_rate = 0.08;       // chance per step that a user's interests move to a new department
};

struct SynthSummary {
  uint64_t items = 0;
  uint64_t users = 0;
  uint64_t interactions = 0;
  uint64_t product_types = 0;
  uint64_t brands = 0;
  std::filesystem::path catalog_file;       // DIR/catalog.json
  std::filesystem::path interactions_file;  // DIR/interactions.txt
  std::filesystem::path truth_file;         // DIR/item_truth.json: latent type/brand per item
  std::filesystem::path tids_file;          // DIR/synthetic_item_id2tid.json: latent attributes as TIDs
};

// Writes DIR/catalog.json, DIR/interactions.txt, DIR/item_truth.json, DIR/synth.json and
// DIR/synthetic_item_id2tid.json (each item's latent attributes as five words: product type,
// ingredient or shade, scent or finish, audience, brand), which lets the stages after
// extraction run on synthetic data (data.tids) and gives extraction a reference to compare with.
SynthSummary write_synthetic_dataset(const std::filesystem::path& out_dir, const SynthOptions& options);

}  // namespace grlm
