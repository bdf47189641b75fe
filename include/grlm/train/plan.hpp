// What the trainer computes on each step, decided without libtorch: the tokenized samples, the
// training/validation split, which samples form each global batch and how they are dealt to ranks
// and micro-batches, the learning-rate schedule and the FLOP count behind MFU.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace grlm {

class RunStore;

// The tokenized mixture build-sft wrote: sample i is tokens [offsets[i], offsets[i + 1]).
struct SftTokens {
  std::vector<int32_t> token_ids;
  std::vector<uint8_t> loss_mask;  // 1: a response token (trained on)
  std::vector<int64_t> offsets;    // samples + 1

  size_t samples() const { return offsets.empty() ? 0 : offsets.size() - 1; }
  int64_t length(size_t sample) const { return offsets[sample + 1] - offsets[sample]; }
  // Tokens the loss is computed on: response tokens after the first position (each predicted
  // from the tokens before it).
  int64_t loss_tokens(size_t sample) const;
};
// Collective: every rank reads the whole dataset of `group` ("/build-sft") and checks it.
SftTokens read_sft_tokens(RunStore& store, const std::string& group);

// Samples held out for validation: a seeded choice of round(fraction * samples) (at least one
// when fraction > 0), the same on every rank; the rest train.
struct SampleSplit {
  std::vector<int64_t> train, validation;
};
SampleSplit split_samples(const SftTokens& tokens, double validation_fraction, uint64_t seed);

// Step s of epoch e = s / steps_per_epoch takes the next global_batch samples of the epoch's
// seeded permutation (an incomplete last batch is left out). The batch is sorted by length
// (longest first) and cut into micro-batches of consecutive samples (length grouping: little
// padding); each micro-batch, longest first, goes to the rank with the fewest padded tokens so
// far, so ranks get similar work (their numbers of micro-steps may differ: gradients are reduced
// once per step, after each rank's last micro-step).
class BatchPlan {
 public:
  BatchPlan(std::vector<int64_t> train_samples, std::vector<int64_t> lengths, int64_t global_batch, int world_size,
            int64_t micro_batch, uint64_t seed);
  int64_t steps_per_epoch() const { return steps_per_epoch_; }
  // Micro-batches per rank and step on average (global batch / (ranks x micro-batch size)).
  int64_t micro_steps() const { return micro_steps_; }
  // The global batch of `step` (0-based, across epochs), length-sorted.
  std::vector<int64_t> global_batch(int64_t step) const;
  // This rank's micro-batches of `step` (at least one), lists of sample ids.
  std::vector<std::vector<int64_t>> micro_batches(int64_t step, int rank) const;

 private:
  std::vector<int64_t> epoch_order(int64_t epoch) const;
  std::vector<int64_t> samples_;
  std::vector<int64_t> lengths_;  // by sample id
  int64_t global_batch_;
  int world_size_;
  int64_t micro_batch_;
  uint64_t seed_;
  int64_t steps_per_epoch_ = 0;
  int64_t micro_steps_ = 0;
};

// A permutation of 0..n-1 from a seed, identical on every platform (Fisher-Yates over splitmix64).
std::vector<int64_t> seeded_permutation(int64_t n, uint64_t seed);

// Hugging Face's get_cosine_schedule_with_warmup: linear warmup over ceil(ratio * total) steps,
// then half a cosine to 0. `step` is the 0-based optimizer step about to be taken.
double cosine_learning_rate(double peak, int64_t step, int64_t total_steps, double warmup_ratio);

// Model FLOPs of one training sample (forward + backward = 3 x forward): 6 * body parameters *
// tokens + 6 * vocab * hidden * loss tokens (the LM head runs on response positions only) +
// 6 * layers * query width * tokens^2 (causal attention scores and values, half of the square).
struct FlopModel {
  double body_parameters = 0;  // everything but the embedding and LM head
  double vocab = 0, hidden = 0, layers = 0, query_width = 0;
  double sample_flops(double tokens, double loss_tokens) const;
};

}  // namespace grlm
