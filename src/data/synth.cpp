#include "grlm/data/synth.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <fstream>
#include <map>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "grlm/core/error.hpp"

namespace grlm {
namespace {

// ------------------------------------------------------------------ the latent taxonomy

struct ProductType {
  std::string_view name;        // as written in titles
  std::string_view department;  // second level of the category path
  std::string_view function;    // what it does, for descriptions
  std::vector<std::string_view> complements;  // types bought next by the same user
  bool coloured;                // takes a shade and a finish (makeup, nails)
};

const std::vector<ProductType>& product_types() {
  static const std::vector<ProductType> types = {
      {"Shampoo", "Hair Care", "cleanses hair and scalp without stripping moisture", {"Conditioner", "Dry Shampoo"}, false},
      {"Conditioner", "Hair Care", "detangles and softens every strand", {"Hair Mask", "Hair Oil"}, false},
      {"Hair Mask", "Hair Care", "deeply repairs dry and damaged hair", {"Hair Oil", "Shampoo"}, false},
      {"Hair Oil", "Hair Care", "adds shine and tames frizz", {"Heat Protectant", "Hair Mask"}, false},
      {"Dry Shampoo", "Hair Care", "refreshes hair between washes", {"Hair Spray", "Shampoo"}, false},
      {"Hair Spray", "Hair Care", "holds styles all day without stiffness", {"Curling Iron", "Dry Shampoo"}, false},
      {"Heat Protectant", "Hair Care", "shields hair from styling heat", {"Flat Iron", "Curling Iron"}, false},
      {"Facial Cleanser", "Skin Care", "removes makeup and impurities", {"Toner", "Exfoliating Scrub"}, false},
      {"Toner", "Skin Care", "balances and preps the skin", {"Face Serum", "Moisturizer"}, false},
      {"Face Serum", "Skin Care", "targets fine lines and dark spots", {"Moisturizer", "Eye Cream"}, false},
      {"Moisturizer", "Skin Care", "hydrates skin for 24 hours", {"Sunscreen", "Eye Cream"}, false},
      {"Sunscreen", "Skin Care", "protects skin from UVA and UVB rays", {"Moisturizer", "Facial Cleanser"}, false},
      {"Eye Cream", "Skin Care", "reduces puffiness and dark circles", {"Face Serum", "Moisturizer"}, false},
      {"Face Mask", "Skin Care", "purifies pores and calms redness", {"Toner", "Face Serum"}, false},
      {"Exfoliating Scrub", "Skin Care", "buffs away dead skin cells", {"Moisturizer", "Face Mask"}, false},
      {"Foundation", "Makeup", "evens out skin tone with buildable coverage", {"Concealer", "Makeup Sponge"}, true},
      {"Concealer", "Makeup", "covers blemishes and dark circles", {"Setting Powder", "Foundation"}, true},
      {"Setting Powder", "Makeup", "locks makeup in place and controls shine", {"Blush", "Makeup Brush Set"}, true},
      {"Blush", "Makeup", "adds a natural flush of color", {"Bronzer", "Makeup Brush Set"}, true},
      {"Bronzer", "Makeup", "gives a sun-kissed glow", {"Blush", "Setting Powder"}, true},
      {"Mascara", "Makeup", "lengthens and volumizes lashes", {"Eyeliner", "Makeup Remover"}, true},
      {"Eyeliner", "Makeup", "defines the eyes with a precise line", {"Eyeshadow Palette", "Mascara"}, true},
      {"Eyeshadow Palette", "Makeup", "creates day-to-night eye looks", {"Eyeliner", "Makeup Brush Set"}, true},
      {"Lipstick", "Makeup", "gives lips rich long-lasting color", {"Lip Liner", "Lip Gloss"}, true},
      {"Lip Gloss", "Makeup", "adds high-shine color to lips", {"Lip Liner", "Lipstick"}, true},
      {"Lip Liner", "Makeup", "shapes and defines lips", {"Lipstick", "Lip Gloss"}, true},
      {"Makeup Remover", "Makeup", "dissolves long-wear and waterproof makeup", {"Facial Cleanser", "Toner"}, false},
      {"Nail Polish", "Nails", "gives nails glossy chip-resistant color", {"Top Coat", "Base Coat"}, true},
      {"Top Coat", "Nails", "seals and protects polish", {"Cuticle Oil", "Nail Polish"}, false},
      {"Base Coat", "Nails", "protects nails and helps polish adhere", {"Nail Polish", "Top Coat"}, false},
      {"Cuticle Oil", "Nails", "nourishes dry cuticles", {"Nail File", "Hand Cream"}, false},
      {"Nail File", "Nails", "shapes and smooths nails", {"Nail Polish", "Cuticle Oil"}, false},
      {"Nail Polish Remover", "Nails", "removes polish quickly and gently", {"Nail Polish", "Cuticle Oil"}, false},
      {"Eau de Parfum", "Fragrance", "leaves a long-lasting signature scent", {"Body Lotion", "Body Mist"}, false},
      {"Body Mist", "Fragrance", "gives a light refreshing scent", {"Body Wash", "Eau de Parfum"}, false},
      {"Cologne", "Fragrance", "leaves a fresh clean scent", {"Aftershave Balm", "Body Wash"}, false},
      {"Body Wash", "Bath & Body", "cleanses and refreshes skin", {"Body Lotion", "Body Scrub"}, false},
      {"Body Lotion", "Bath & Body", "keeps skin soft and smooth", {"Hand Cream", "Body Mist"}, false},
      {"Body Scrub", "Bath & Body", "exfoliates for smoother skin", {"Body Lotion", "Bath Bomb"}, false},
      {"Bath Bomb", "Bath & Body", "turns bath time into a spa", {"Body Scrub", "Body Lotion"}, false},
      {"Hand Cream", "Bath & Body", "repairs dry cracked hands", {"Cuticle Oil", "Body Lotion"}, false},
      {"Bar Soap", "Bath & Body", "cleanses gently every day", {"Body Lotion", "Body Scrub"}, false},
      {"Makeup Brush Set", "Tools & Accessories", "blends makeup flawlessly", {"Makeup Sponge", "Foundation"}, false},
      {"Makeup Sponge", "Tools & Accessories", "blends foundation seamlessly", {"Foundation", "Concealer"}, false},
      {"Hair Dryer", "Tools & Accessories", "dries hair fast with less frizz", {"Heat Protectant", "Flat Iron"}, false},
      {"Flat Iron", "Tools & Accessories", "straightens and smooths hair", {"Heat Protectant", "Hair Oil"}, false},
      {"Curling Iron", "Tools & Accessories", "creates lasting curls and waves", {"Hair Spray", "Heat Protectant"}, false},
      {"Tweezers", "Tools & Accessories", "shapes brows with precision", {"Makeup Brush Set", "Eyeliner"}, false},
      {"Beard Oil", "Men's Grooming", "softens and conditions the beard", {"Shaving Cream", "Cologne"}, false},
      {"Shaving Cream", "Men's Grooming", "whips into a rich lather for a close shave", {"Razor", "Aftershave Balm"}, false},
      {"Aftershave Balm", "Men's Grooming", "soothes skin after shaving", {"Cologne", "Shaving Cream"}, false},
      {"Razor", "Men's Grooming", "gives a smooth close shave", {"Shaving Cream", "Aftershave Balm"}, false},
  };
  return types;
}

constexpr std::string_view kScents[] = {"Lavender", "Citrus", "Vanilla", "Rose", "Coconut", "Mint",
                                        "Sandalwood", "Jasmine", "Green Tea", "Cucumber", "Unscented",
                                        "Cherry Blossom"};
constexpr std::string_view kIngredients[] = {"Argan Oil", "Shea Butter", "Vitamin C", "Hyaluronic Acid",
                                             "Keratin", "Aloe Vera", "Tea Tree", "Charcoal", "Retinol",
                                             "Collagen", "Jojoba Oil", "Niacinamide", "Biotin", "Honey",
                                             "Rosehip Oil", "Ceramides"};
// Who a product is for depends on its department (nobody sells aftershave for curly hair).
const std::vector<std::string_view>& audiences_of(std::string_view department) {
  static const std::map<std::string_view, std::vector<std::string_view>> audiences = {
      {"Hair Care", {"Curly Hair", "Color-Treated Hair", "Fine Hair", "Thick Hair", "Women", "Men", "Unisex"}},
      {"Skin Care", {"Sensitive Skin", "Oily Skin", "Dry Skin", "Mature Skin", "All Skin Types", "Men"}},
      {"Makeup", {"Women", "All Skin Types", "Sensitive Skin", "Mature Skin", "Fair Skin", "Deep Skin"}},
      {"Nails", {"Women", "Kids", "Unisex", "Brittle Nails"}},
      {"Fragrance", {"Women", "Men", "Unisex"}},
      {"Bath & Body", {"Dry Skin", "Sensitive Skin", "Kids", "Unisex", "Women", "Men"}},
      {"Tools & Accessories", {"Women", "Unisex", "Curly Hair", "Fine Hair", "Professionals", "Travel"}},
      {"Men's Grooming", {"Men", "Sensitive Skin", "Coarse Beards"}},
  };
  return audiences.at(department);
}
constexpr std::string_view kShades[] = {"Nude", "Red", "Pink", "Coral", "Berry", "Plum", "Black", "Brown",
                                        "Gold", "Bronze", "Ivory", "Mauve"};
constexpr std::string_view kFinishes[] = {"Matte", "Satin", "Glossy", "Shimmer", "Dewy", "Long-Wear",
                                          "Waterproof", "Velvet"};
constexpr std::string_view kClaims[] = {"Organic", "Vegan", "Cruelty-Free", "Paraben-Free", "Sulfate-Free",
                                        "Fragrance-Free", "Dermatologist-Tested", "Salon-Quality",
                                        "Professional", "Travel-Size"};
constexpr std::string_view kSizes[] = {"0.5 Ounce", "1 Ounce", "1.7 Ounce", "3.4 Ounce", "6.7 Ounce",
                                       "8 Fl Oz", "12 Fl Oz", "16.9 Fl Oz", "33.8 Ounce", "Pack of 2",
                                       "Pack of 3", "1 Count"};
constexpr std::string_view kBrandStarts[] = {"Aur", "Bel", "Cor", "Dela", "Evo", "Flo", "Gla", "Hel", "Iri",
                                             "Jov", "Kal", "Lum", "Mir", "Nov", "Opa", "Pur", "Quin", "Ros",
                                             "Sol", "Ter", "Ula", "Ver", "Wil", "Xan", "Yva", "Zen"};
constexpr std::string_view kBrandEnds[] = {"a", "elle", "ora", "ique", "ara", "is", "on", "ette", "ina",
                                           "ex", "ium", "ova"};
constexpr std::string_view kBrandSuffixes[] = {"", " Beauty", " Labs", " Naturals", " Paris", " Pro",
                                               " Botanics", " Skin"};

// ------------------------------------------------------------------ deterministic randomness

// SplitMix64: a fixed, documented generator, so the same seed gives the same files everywhere
// (std:: distributions are implementation-defined).
class Random {
 public:
  explicit Random(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  uint64_t below(uint64_t bound) { return bound == 0 ? 0 : next() % bound; }
  template <class T, size_t N>
  const T& pick(const T (&values)[N]) { return values[below(N)]; }

 private:
  uint64_t state_;
};

uint64_t mix_seed(uint64_t seed, uint64_t stream, uint64_t index) {
  Random random(seed ^ (stream * 0xD1B54A32D192ED03ull) ^ (index * 0x9E3779B97F4A7C15ull));
  random.next();
  return random.next();
}

// Items of one group with cumulative popularity, for weighted draws.
struct WeightedList {
  std::vector<uint32_t> items;
  std::vector<double> cumulative;
  void add(uint32_t item, double weight) {
    items.push_back(item);
    cumulative.push_back((cumulative.empty() ? 0.0 : cumulative.back()) + weight);
  }
  bool empty() const { return items.empty(); }
  uint32_t draw(Random& random) const {
    const double target = random.uniform() * cumulative.back();
    const size_t at = static_cast<size_t>(std::upper_bound(cumulative.begin(), cumulative.end(), target) -
                                          cumulative.begin());
    return items[std::min(at, items.size() - 1)];
  }
};

struct Brand {
  std::string name;
  std::vector<std::string_view> departments;  // the one or two departments it sells in
  std::string_view signature_claim;
  std::string_view signature_scent;
};

struct Item {
  uint32_t type = 0;
  uint32_t brand = 0;
  std::string title;
  std::string description;
  std::string categories;
  std::array<std::string, 5> tid;  // latent attributes as five words (see synthetic_tids)
};

// A word of a synthetic TID: lowercase, spaces as '-' ("Color-Treated Hair" -> "color-treated-hair").
std::string tid_word(std::string_view text) {
  std::string word;
  for (char c : text) {
    if (c == ' ') {
      word += '-';
    } else if (c != '\'' && c != '&') {
      word += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
  }
  return word;
}

std::vector<std::string_view> department_names() {
  std::vector<std::string_view> names;
  for (const ProductType& type : product_types()) {
    if (std::find(names.begin(), names.end(), type.department) == names.end()) names.push_back(type.department);
  }
  return names;
}

std::vector<Brand> make_brands(const SynthOptions& options, const std::vector<std::string_view>& departments) {
  const size_t count = std::max<uint64_t>(8, options.items / 25);
  std::vector<Brand> brands(count);
  const size_t starts = std::size(kBrandStarts);
  const size_t ends = std::size(kBrandEnds);
  for (size_t b = 0; b < count; ++b) {
    Random random(mix_seed(options.seed, 1, b));
    // Distinct names by construction: b enumerates (start, end, suffix, number) combinations.
    std::string name = std::string(kBrandStarts[b % starts]) + std::string(kBrandEnds[(b / starts) % ends]);
    const size_t round = b / (starts * ends);
    name += kBrandSuffixes[round % std::size(kBrandSuffixes)];
    if (round >= std::size(kBrandSuffixes)) name += " " + std::to_string(round / std::size(kBrandSuffixes) + 1);
    brands[b].name = name;
    brands[b].departments.push_back(departments[random.below(departments.size())]);
    if (random.uniform() < 0.4) {
      const std::string_view second = departments[random.below(departments.size())];
      if (second != brands[b].departments[0]) brands[b].departments.push_back(second);
    }
    brands[b].signature_claim = random.pick(kClaims);
    brands[b].signature_scent = random.pick(kScents);
  }
  return brands;
}

Item make_item(uint64_t index, const SynthOptions& options, const std::vector<Brand>& brands) {
  Random random(mix_seed(options.seed, 2, index));
  const auto& types = product_types();
  Item item;
  // Brands have Zipf-like sizes: a few large houses, a long tail.
  const double u = random.uniform();
  item.brand = static_cast<uint32_t>(std::min<double>(brands.size() - 1, std::floor(std::pow(u, 1.6) * brands.size())));
  const Brand& brand = brands[item.brand];
  const std::string_view department = brand.departments[random.below(brand.departments.size())];
  std::vector<uint32_t> candidates;
  for (uint32_t t = 0; t < types.size(); ++t) {
    if (types[t].department == department) candidates.push_back(t);
  }
  item.type = candidates[random.below(candidates.size())];
  const ProductType& type = types[item.type];
  const std::string_view claim = random.uniform() < 0.5 ? brand.signature_claim : random.pick(kClaims);
  const std::string_view scent = random.uniform() < 0.5 ? brand.signature_scent : random.pick(kScents);
  const std::string_view ingredient = random.pick(kIngredients);
  const auto& audiences = audiences_of(type.department);
  const std::string_view audience = audiences[random.below(audiences.size())];
  const std::string_view size = random.pick(kSizes);
  const std::string_view shade = random.pick(kShades);
  const std::string_view finish = random.pick(kFinishes);
  const std::string line_name = std::string(kBrandStarts[random.below(std::size(kBrandStarts))]) + "lux";

  std::string title = brand.name + " ";
  if (type.coloured) {
    title += std::string(finish) + " " + std::string(type.name) + ", " + std::string(shade);
  } else {
    title += std::string(claim) + " " + std::string(ingredient) + " " + std::string(type.name);
  }
  title += " for " + std::string(audience) + ", " + std::string(size);
  item.title = std::move(title);

  std::string description = "The " + brand.name + " " + line_name + " " + std::string(type.name) + " " +
                            std::string(type.function) + ". ";
  if (type.coloured) {
    description += "A " + std::string(finish) + " finish in a " + std::string(shade) +
                   " shade that lasts all day. ";
  }
  description += "Made with " + std::string(ingredient) + " and a hint of " + std::string(scent) + ". ";
  description += "Suitable for " + std::string(audience) + ". " + std::string(claim) + " formula";
  if (random.uniform() < 0.5) description += "; pairs well with " + std::string(type.complements[0]);
  description += ".";
  item.description = std::move(description);
  item.categories = "Beauty > " + std::string(type.department) + " > " + std::string(type.name);
  // Product type first, then what tells items of a type apart, as the spec's TIDs are ordered.
  item.tid = {tid_word(type.name), tid_word(type.coloured ? shade : ingredient), tid_word(type.coloured ? finish : scent),
              tid_word(audience), tid_word(brand.name)};
  return item;
}

// Popularity of item i: Zipf over a seeded shuffle, so popular items are spread over types.
std::vector<double> item_popularity(const SynthOptions& options) {
  std::vector<uint32_t> order(options.items);
  for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  Random random(mix_seed(options.seed, 3, 0));
  for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[random.below(i)]);
  std::vector<double> popularity(options.items);
  for (size_t rank = 0; rank < order.size(); ++rank) {
    popularity[order[rank]] = 1.0 / std::pow(static_cast<double>(rank) + 10.0, 0.8);
  }
  return popularity;
}

struct ItemIndexes {
  std::vector<WeightedList> by_type;
  std::vector<WeightedList> by_department;
  std::map<std::pair<uint32_t, uint32_t>, WeightedList> by_brand_type;
  std::vector<WeightedList> by_brand;
};

ItemIndexes index_items(const std::vector<Item>& items, const std::vector<double>& popularity,
                        const std::vector<std::string_view>& departments, size_t brand_count) {
  const auto& types = product_types();
  ItemIndexes indexes;
  indexes.by_type.resize(types.size());
  indexes.by_department.resize(departments.size());
  indexes.by_brand.resize(brand_count);
  for (uint32_t i = 0; i < items.size(); ++i) {
    const Item& item = items[i];
    const size_t department = static_cast<size_t>(
        std::find(departments.begin(), departments.end(), types[item.type].department) - departments.begin());
    indexes.by_type[item.type].add(i, popularity[i]);
    indexes.by_department[department].add(i, popularity[i]);
    indexes.by_brand_type[{item.brand, item.type}].add(i, popularity[i]);
    indexes.by_brand[item.brand].add(i, popularity[i]);
  }
  return indexes;
}

uint32_t type_index(std::string_view name) {
  const auto& types = product_types();
  for (uint32_t t = 0; t < types.size(); ++t) {
    if (types[t].name == name) return t;
  }
  throw Error(cat("synth taxonomy: unknown complement type ", name));
}

uint32_t history_length(Random& random, const SynthOptions& options) {
  const double extra_mean = std::max(0.0, options.mean_history - options.min_history);
  const double draw = -std::log(1.0 - random.uniform()) * extra_mean;
  return std::min<uint32_t>(options.max_history, options.min_history + static_cast<uint32_t>(draw));
}

// One user's history: a walk through complements, brand loyalty and (drifting) home departments.
std::vector<uint32_t> make_history(uint64_t user, const SynthOptions& options, const std::vector<Item>& items,
                                   const ItemIndexes& indexes, size_t department_count) {
  Random random(mix_seed(options.seed, 4, user));
  const auto& types = product_types();
  const uint32_t length = std::min<uint64_t>(history_length(random, options), items.size());
  std::vector<size_t> home = {random.below(department_count), random.below(department_count)};
  auto from_home = [&]() {
    for (int attempt = 0; attempt < 8; ++attempt) {
      const WeightedList& list = indexes.by_department[home[random.below(home.size())]];
      if (!list.empty()) return list.draw(random);
    }
    return static_cast<uint32_t>(random.below(items.size()));
  };
  std::vector<uint32_t> history;
  history.push_back(from_home());
  while (history.size() < length) {
    const Item& last = items[history.back()];
    uint32_t next = 0;
    bool unseen = false;
    for (int attempt = 0; attempt < 8 && !unseen; ++attempt) {
      const double choice = random.uniform();
      if (choice < options.complement_rate) {
        const auto& complements = types[last.type].complements;
        const uint32_t wanted = type_index(complements[random.below(complements.size())]);
        const auto same_brand = indexes.by_brand_type.find({last.brand, wanted});
        if (random.uniform() < options.brand_loyalty && same_brand != indexes.by_brand_type.end()) {
          next = same_brand->second.draw(random);
        } else if (!indexes.by_type[wanted].empty()) {
          next = indexes.by_type[wanted].draw(random);
        } else {
          next = from_home();
        }
      } else if (choice < options.complement_rate + options.brand_loyalty) {
        next = indexes.by_brand[last.brand].draw(random);
      } else {
        next = from_home();
      }
      unseen = std::find(history.begin(), history.end(), next) == history.end();
    }
    if (!unseen) {
      // Small catalogs: take the first item the user has not seen.
      for (uint32_t candidate = 0; candidate < items.size() && !unseen; ++candidate) {
        next = static_cast<uint32_t>((history.back() + 1 + candidate) % items.size());
        unseen = std::find(history.begin(), history.end(), next) == history.end();
      }
    }
    history.push_back(next);
    if (random.uniform() < options.drift_rate) home[random.below(home.size())] = random.below(department_count);
  }
  return history;
}

// Writes through a temporary file, renamed into place when complete.
class AtomicFile {
 public:
  explicit AtomicFile(std::filesystem::path target) : target_(std::move(target)), temporary_(target_) {
    temporary_ += ".partial";
    out_.open(temporary_, std::ios::binary | std::ios::trunc);
    if (!out_) throw Error(cat("cannot write ", temporary_.string()));
  }
  std::ofstream& out() { return out_; }
  void commit() {
    out_.close();
    if (!out_) throw Error(cat("error while writing ", temporary_.string(), " (disk full?)"));
    std::filesystem::rename(temporary_, target_);
  }

 private:
  std::filesystem::path target_;
  std::filesystem::path temporary_;
  std::ofstream out_;
};

}  // namespace

SynthSummary write_synthetic_dataset(const std::filesystem::path& out_dir, const SynthOptions& options) {
  if (options.items < 2) throw UsageError("synth: --items must be at least 2");
  if (options.users < 1) throw UsageError("synth: --users must be at least 1");
  if (options.min_history < 1 || options.min_history > options.max_history) {
    throw UsageError("synth: need 1 <= min_history <= max_history");
  }
  std::filesystem::create_directories(out_dir);
  const std::vector<std::string_view> departments = department_names();
  const std::vector<Brand> brands = make_brands(options, departments);
  std::vector<Item> items;
  items.reserve(options.items);
  for (uint64_t i = 0; i < options.items; ++i) items.push_back(make_item(i, options, brands));
  const ItemIndexes indexes = index_items(items, item_popularity(options), departments, brands.size());

  SynthSummary summary;
  summary.items = options.items;
  summary.users = options.users;
  summary.product_types = product_types().size();
  summary.brands = brands.size();
  summary.catalog_file = out_dir / "catalog.json";
  summary.interactions_file = out_dir / "interactions.txt";
  summary.truth_file = out_dir / "item_truth.json";
  summary.tids_file = out_dir / "synthetic_item_id2tid.json";

  AtomicFile catalog(summary.catalog_file);
  AtomicFile truth(summary.truth_file);
  catalog.out() << "{\n";
  truth.out() << "{\n";
  for (uint64_t i = 0; i < items.size(); ++i) {
    const Item& item = items[i];
    const std::string id = nlohmann::json(std::to_string(i + 1)).dump();
    catalog.out() << "  " << id << ": {\"title\": " << nlohmann::json(item.title).dump()
                  << ", \"description\": " << nlohmann::json(item.description).dump()
                  << ", \"categories\": " << nlohmann::json(item.categories).dump() << "}"
                  << (i + 1 < items.size() ? ",\n" : "\n");
    truth.out() << "  " << id << ": {\"type\": " << nlohmann::json(product_types()[item.type].name).dump()
                << ", \"department\": " << nlohmann::json(product_types()[item.type].department).dump()
                << ", \"brand\": " << nlohmann::json(brands[item.brand].name).dump() << "}"
                << (i + 1 < items.size() ? ",\n" : "\n");
  }
  catalog.out() << "}\n";
  truth.out() << "}\n";
  catalog.commit();
  truth.commit();

  AtomicFile tids(summary.tids_file);
  tids.out() << "{\n";
  for (uint64_t i = 0; i < items.size(); ++i) {
    tids.out() << "  " << nlohmann::json(std::to_string(i + 1)).dump() << ": " << nlohmann::json(items[i].tid).dump()
               << (i + 1 < items.size() ? ",\n" : "\n");
  }
  tids.out() << "}\n";
  tids.commit();

  AtomicFile interactions(summary.interactions_file);
  std::string line;
  for (uint64_t u = 0; u < options.users; ++u) {
    const std::vector<uint32_t> history = make_history(u, options, items, indexes, departments.size());
    line = std::to_string(u + 1);
    for (uint32_t item : history) {
      line += ' ';
      line += std::to_string(item + 1);
    }
    line += '\n';
    interactions.out() << line;
    summary.interactions += history.size();
  }
  interactions.commit();

  AtomicFile manifest(out_dir / "synth.json");
  manifest.out() << nlohmann::json{{"generator", "grlm synth"},
                                   {"seed", options.seed},
                                   {"items", summary.items},
                                   {"users", summary.users},
                                   {"interactions", summary.interactions},
                                   {"product_types", summary.product_types},
                                   {"brands", summary.brands},
                                   {"complement_rate", options.complement_rate},
                                   {"brand_loyalty", options.brand_loyalty},
                                   {"drift_rate", options.drift_rate},
                                   {"min_history", options.min_history},
                                   {"max_history", options.max_history},
                                   {"mean_history", options.mean_history}}
                        .dump(2)
                 << "\n";
  manifest.commit();
  return summary;
}

}  // namespace grlm
