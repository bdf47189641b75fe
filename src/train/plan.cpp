#include "grlm/train/plan.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "grlm/core/error.hpp"
#include "grlm/core/store.hpp"

namespace grlm {

int64_t SftTokens::loss_tokens(size_t sample) const {
  int64_t count = 0;
  for (int64_t position = offsets[sample] + 1; position < offsets[sample + 1]; ++position) {
    count += loss_mask[static_cast<size_t>(position)];
  }
  return count;
}

SftTokens read_sft_tokens(RunStore& store, const std::string& group) {
  for (const char* name : {"/token_ids", "/loss_mask", "/sample_offsets"}) {
    if (!store.exists(group + name)) {
      throw InputError(cat(store.file_path().string(), ": ", group, name, " is missing (run build-sft first)"));
    }
  }
  SftTokens tokens;
  tokens.token_ids = store.read_all<int32_t>(group + "/token_ids");
  tokens.loss_mask = store.read_all<uint8_t>(group + "/loss_mask");
  tokens.offsets = store.read_all<int64_t>(group + "/sample_offsets");
  const auto total = static_cast<int64_t>(tokens.token_ids.size());
  if (tokens.loss_mask.size() != tokens.token_ids.size() || tokens.offsets.size() < 2 || tokens.offsets.front() != 0 ||
      tokens.offsets.back() != total) {
    throw InputError(cat(store.file_path().string(), ": ", group, " is inconsistent (", tokens.token_ids.size(),
                         " tokens, ", tokens.loss_mask.size(), " mask entries, ", tokens.offsets.size(),
                         " offsets): run build-sft again"));
  }
  for (size_t sample = 0; sample < tokens.samples(); ++sample) {
    if (tokens.offsets[sample + 1] < tokens.offsets[sample]) {
      throw InputError(cat(store.file_path().string(), ": ", group, "/sample_offsets decreases at sample ", sample));
    }
  }
  return tokens;
}

namespace {
uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
}  // namespace

std::vector<int64_t> seeded_permutation(int64_t n, uint64_t seed) {
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  uint64_t state = seed;
  for (int64_t i = n - 1; i > 0; --i) {
    const auto j = static_cast<int64_t>(splitmix64(state) % static_cast<uint64_t>(i + 1));
    std::swap(order[static_cast<size_t>(i)], order[static_cast<size_t>(j)]);
  }
  return order;
}

SampleSplit split_samples(const SftTokens& tokens, double validation_fraction, uint64_t seed) {
  if (validation_fraction < 0 || validation_fraction >= 1) {
    throw UsageError(cat("train.val_fraction must be in [0, 1), not ", validation_fraction));
  }
  const auto samples = static_cast<int64_t>(tokens.samples());
  int64_t held_out = static_cast<int64_t>(std::llround(validation_fraction * static_cast<double>(samples)));
  if (validation_fraction > 0) held_out = std::clamp<int64_t>(held_out, 1, std::max<int64_t>(samples - 1, 1));
  const std::vector<int64_t> order = seeded_permutation(samples, seed ^ 0x7661u);
  SampleSplit split;
  split.validation.assign(order.begin(), order.begin() + held_out);
  split.train.assign(order.begin() + held_out, order.end());
  std::sort(split.validation.begin(), split.validation.end());
  std::sort(split.train.begin(), split.train.end());
  return split;
}

BatchPlan::BatchPlan(std::vector<int64_t> train_samples, std::vector<int64_t> lengths, int64_t global_batch,
                     int world_size, int64_t micro_batch, uint64_t seed)
    : samples_(std::move(train_samples)),
      lengths_(std::move(lengths)),
      global_batch_(global_batch),
      world_size_(world_size),
      micro_batch_(micro_batch),
      seed_(seed) {
  if (global_batch < 1 || micro_batch < 1) throw UsageError("train.global_batch_size and train.micro_batch_size must be >= 1");
  const int64_t per_step = static_cast<int64_t>(world_size) * micro_batch;
  if (global_batch % per_step != 0) {
    throw UsageError(cat("train.global_batch_size (", global_batch, ") must be a multiple of ranks x train.micro_batch_size (",
                         world_size, " x ", micro_batch, " = ", per_step, ")"));
  }
  micro_steps_ = global_batch / per_step;
  steps_per_epoch_ = static_cast<int64_t>(samples_.size()) / global_batch;
  if (steps_per_epoch_ == 0) {
    throw UsageError(cat("train.global_batch_size (", global_batch, ") is larger than the ", samples_.size(),
                         " training samples"));
  }
}

std::vector<int64_t> BatchPlan::epoch_order(int64_t epoch) const {
  const std::vector<int64_t> permutation =
      seeded_permutation(static_cast<int64_t>(samples_.size()), seed_ * 1000003ull + static_cast<uint64_t>(epoch));
  std::vector<int64_t> order;
  order.reserve(permutation.size());
  for (int64_t index : permutation) order.push_back(samples_[static_cast<size_t>(index)]);
  return order;
}

std::vector<int64_t> BatchPlan::global_batch(int64_t step) const {
  const int64_t epoch = step / steps_per_epoch_;
  const int64_t first = (step % steps_per_epoch_) * global_batch_;
  const std::vector<int64_t> order = epoch_order(epoch);
  std::vector<int64_t> batch(order.begin() + first, order.begin() + first + global_batch_);
  std::stable_sort(batch.begin(), batch.end(), [&](int64_t a, int64_t b) {
    return lengths_[static_cast<size_t>(a)] > lengths_[static_cast<size_t>(b)];
  });
  return batch;
}

std::vector<std::vector<int64_t>> BatchPlan::micro_batches(int64_t step, int rank) const {
  const std::vector<int64_t> batch = global_batch(step);
  // Consecutive samples of the length-sorted batch form each micro-batch (little padding). The
  // micro-batches, longest first, go to the rank with the fewest padded tokens so far (ties: the
  // lower rank), so ranks finish together; a rank may run more, shorter micro-batches than another.
  std::vector<int64_t> load(static_cast<size_t>(world_size_), 0);
  std::vector<std::vector<int64_t>> mine;
  for (size_t first = 0; first < batch.size(); first += static_cast<size_t>(micro_batch_)) {
    const auto owner = static_cast<size_t>(std::min_element(load.begin(), load.end()) - load.begin());
    load[owner] += micro_batch_ * lengths_[static_cast<size_t>(batch[first])];
    if (owner == static_cast<size_t>(rank)) {
      mine.emplace_back(batch.begin() + static_cast<int64_t>(first),
                        batch.begin() + static_cast<int64_t>(first) + micro_batch_);
    }
  }
  return mine;
}

double cosine_learning_rate(double peak, int64_t step, int64_t total_steps, double warmup_ratio) {
  const auto warmup = static_cast<int64_t>(std::ceil(warmup_ratio * static_cast<double>(total_steps)));
  if (step < warmup) return peak * static_cast<double>(step) / static_cast<double>(std::max<int64_t>(1, warmup));
  const double progress =
      static_cast<double>(step - warmup) / static_cast<double>(std::max<int64_t>(1, total_steps - warmup));
  return peak * std::max(0.0, 0.5 * (1.0 + std::cos(M_PI * 0.5 * 2.0 * progress)));
}

double FlopModel::sample_flops(double tokens, double loss_tokens) const {
  return 6 * body_parameters * tokens + 6 * vocab * hidden * loss_tokens + 6 * layers * query_width * tokens * tokens;
}

}  // namespace grlm
