#include "grlm/model/generation.hpp"

#include <cmath>
#include <numeric>

#include <ATen/CPUGeneratorImpl.h>
#include <c10/core/InferenceMode.h>

#include "grlm/core/error.hpp"

namespace grlm {
namespace {

constexpr double kFinishedPenalty = -1.0e9;  // Hugging Face's "very large negative" score

// Prompts left-padded into one batch; the mask is undefined when no prompt needs padding.
struct PromptBatch {
  at::Tensor input_ids;       // [B, P]
  at::Tensor attention_mask;  // [B, P] or undefined
  at::Tensor positions;       // [B, P]
};

PromptBatch pad_prompts(const Transformer& model, const std::vector<std::vector<int64_t>>& prompts, int64_t pad_id) {
  LeftPadded padded = left_pad(model.config(), prompts, pad_id, model.device(), "prompt");
  return {padded.input_ids, padded.padded ? padded.attention_mask : at::Tensor(), padded.positions};
}

// Hugging Face's sampling warpers, in its order: temperature, top-k, top-p.
void warp_for_sampling(at::Tensor& scores, const GenerationOptions& options) {
  const double negative_infinity = -std::numeric_limits<double>::infinity();
  if (options.temperature != 1.0) scores = scores / options.temperature;
  if (options.top_k > 0) {
    const int64_t k = std::min<int64_t>(options.top_k, scores.size(-1));
    const at::Tensor kth = std::get<0>(at::topk(scores, k)).narrow(-1, k - 1, 1);
    scores = scores.masked_fill(scores < kth, negative_infinity);
  }
  if (options.top_p < 1.0) {
    auto [sorted, order] = at::sort(scores, -1, false);
    at::Tensor remove = sorted.softmax(-1).cumsum(-1) <= (1 - options.top_p);
    remove.narrow(-1, remove.size(-1) - 1, 1).fill_(false);
    scores = scores.masked_fill(remove.scatter(-1, order, remove), negative_infinity);
  }
}

bool is_eos(int64_t token, const std::vector<int64_t>& eos) { return std::find(eos.begin(), eos.end(), token) != eos.end(); }

at::Tensor eos_hits(const at::Tensor& tokens, const std::vector<int64_t>& eos) {
  at::Tensor hits = at::zeros_like(tokens, at::kBool);
  for (int64_t id : eos) hits |= tokens == id;
  return hits;
}

at::Tensor last_logits(const Transformer& model, const ForwardInputs& inputs) {
  const at::Tensor hidden = model.hidden_states(inputs);
  return model.logits(hidden.select(1, hidden.size(1) - 1)).to(at::kFloat);
}

std::vector<int64_t> row_tokens(const at::Tensor& generated_cpu, int64_t row, int64_t length) {
  const int64_t* data = generated_cpu.data_ptr<int64_t>() + row * generated_cpu.size(1);
  return std::vector<int64_t>(data, data + length);
}

std::vector<std::vector<GeneratedSequence>> greedy_or_sample(const Transformer& model,
                                                             const std::vector<std::vector<int64_t>>& prompts,
                                                             const GenerationOptions& options) {
  const at::Device device = model.device();
  PromptBatch batch = pad_prompts(model, prompts, options.pad_token_id);
  const int64_t rows = batch.input_ids.size(0);
  const int64_t prompt_length = batch.input_ids.size(1);
  KvCache cache(model.config(), rows, prompt_length + options.max_new_tokens, model.dtype(), device);
  at::Tensor mask = batch.attention_mask;
  at::Tensor logits = last_logits(model, {batch.input_ids, batch.positions, mask, &cache});
  at::Tensor positions = batch.positions.select(1, prompt_length - 1);
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(options.seed);

  at::Tensor generated = at::full({rows, options.max_new_tokens}, options.pad_token_id, at::kLong);
  std::vector<int64_t> lengths(static_cast<size_t>(rows), 0);
  std::vector<double> scores(static_cast<size_t>(rows), 0.0);
  std::vector<bool> unfinished(static_cast<size_t>(rows), true);
  for (int64_t step = 0; step < options.max_new_tokens; ++step) {
    at::Tensor processed = options.logits_processor || options.do_sample ? logits.clone() : logits;
    if (options.logits_processor) options.logits_processor(generated.narrow(1, 0, step).to(device), processed);
    at::Tensor next;
    if (options.do_sample) {
      warp_for_sampling(processed, options);
      next = at::multinomial(processed.softmax(-1).cpu(), 1, false, generator).squeeze(1);
    } else {
      next = processed.argmax(-1).cpu();
    }
    const at::Tensor log_probs = options.compute_scores
                                     ? logits.log_softmax(-1).gather(1, next.to(device).unsqueeze(1)).squeeze(1).to(at::kDouble).cpu()
                                     : at::zeros({rows}, at::kDouble);
    auto next_ids = next.accessor<int64_t, 1>();
    auto generated_rows = generated.accessor<int64_t, 2>();
    auto token_log_probs = log_probs.accessor<double, 1>();
    bool any_open = false;
    for (int64_t row = 0; row < rows; ++row) {
      const size_t r = static_cast<size_t>(row);
      if (!unfinished[r]) {
        next_ids[row] = options.pad_token_id;
        continue;
      }
      generated_rows[row][step] = next_ids[row];
      scores[r] += token_log_probs[row];
      lengths[r] = step + 1;
      bool done = is_eos(next_ids[row], options.eos_token_ids);
      if (!done && options.stop_check) done = options.stop_check(row_tokens(generated, row, step + 1));
      unfinished[r] = !done;
      any_open |= !done;
    }
    if (!any_open || step + 1 == options.max_new_tokens) break;
    const auto long_options = at::TensorOptions().dtype(at::kLong).device(device);
    if (mask.defined()) mask = at::cat({mask, at::ones({rows, 1}, long_options)}, 1);
    positions = positions + 1;
    logits = last_logits(model, {next.to(device).unsqueeze(1), positions.unsqueeze(1), mask, &cache});
  }
  std::vector<std::vector<GeneratedSequence>> results(static_cast<size_t>(rows));
  for (int64_t row = 0; row < rows; ++row) {
    const size_t r = static_cast<size_t>(row);
    results[r].push_back({row_tokens(generated, row, lengths[r]), scores[r]});
  }
  return results;
}

// Beam search as Hugging Face's `generate` runs it: per prompt the best 2 * num_beams (more with
// several eos ids) continuations of all beams; those among the top num_beams that end (eos, stop,
// or the length limit) join the finished hypotheses, scored sum / length^length_penalty; the best
// num_beams unfinished ones continue; the search ends when no running beam can beat the worst
// finished one.
std::vector<std::vector<GeneratedSequence>> beam_search(const Transformer& model,
                                                        const std::vector<std::vector<int64_t>>& prompts,
                                                        const GenerationOptions& options) {
  const at::Device device = model.device();
  const int64_t beams = options.num_beams;
  const int64_t max_new = options.max_new_tokens;
  PromptBatch batch = pad_prompts(model, prompts, options.pad_token_id);
  const int64_t batch_size = batch.input_ids.size(0);
  const int64_t prompt_length = batch.input_ids.size(1);
  const int64_t rows = batch_size * beams;
  const int64_t keep = std::max<int64_t>(2, 1 + static_cast<int64_t>(options.eos_token_ids.size())) * beams;
  const auto float_options = at::TensorOptions().dtype(at::kFloat).device(device);
  const auto long_options = at::TensorOptions().dtype(at::kLong).device(device);
  const auto bool_options = at::TensorOptions().dtype(at::kBool).device(device);

  // The prompt runs once per prompt; its beams then share its keys and values (the cache holds
  // the prompt's padding mask), and only the generated positions are per beam.
  KvCache cache(model.config(), batch_size, prompt_length + max_new, model.dtype(), device);
  at::Tensor logits = last_logits(model, {batch.input_ids, batch.positions, batch.attention_mask, &cache});
  cache.share_prefix(beams, batch.attention_mask);
  logits = logits.repeat_interleave(beams, 0);
  at::Tensor positions = batch.positions.select(1, prompt_length - 1).repeat_interleave(beams, 0);

  at::Tensor running = at::full({batch_size, beams, max_new}, options.pad_token_id, long_options);
  at::Tensor running_scores = at::zeros({batch_size, beams}, float_options);
  running_scores.narrow(1, 1, beams - 1).fill_(kFinishedPenalty);
  at::Tensor finished = running.clone();
  at::Tensor finished_scores = at::full({batch_size, beams}, kFinishedPenalty, float_options);
  at::Tensor finished_lengths = at::zeros({batch_size, beams}, long_options);
  at::Tensor is_finished = at::zeros({batch_size, beams}, bool_options);
  at::Tensor improvable = at::ones({batch_size, 1}, bool_options);
  at::Tensor top_mask = at::cat({at::ones({beams}, bool_options), at::zeros({keep - beams}, bool_options)});
  const at::Tensor batch_offset = at::arange(batch_size, long_options).view({batch_size, 1}) * beams;
  const int64_t vocab = logits.size(-1);

  for (int64_t step = 0; step < max_new; ++step) {
    at::Tensor log_probs = logits.log_softmax(-1);
    if (options.logits_processor) options.logits_processor(running.view({rows, max_new}).narrow(1, 0, step), log_probs);
    log_probs = (log_probs.view({batch_size, beams, vocab}) + running_scores.unsqueeze(-1)).view({batch_size, beams * vocab});
    auto [top_scores, top_index] = at::topk(log_probs, keep);
    const at::Tensor source_beam = top_index.div(vocab, "floor");
    const at::Tensor token = top_index.remainder(vocab);
    at::Tensor candidates = running.gather(1, source_beam.unsqueeze(-1).expand({batch_size, keep, max_new})).clone();
    candidates.select(2, step).copy_(token);

    at::Tensor hits = eos_hits(token, options.eos_token_ids);
    if (step + 1 >= max_new) hits.fill_(true);
    if (options.stop_check) {
      const at::Tensor candidates_cpu = candidates.cpu().contiguous().view({batch_size * keep, max_new});
      at::Tensor stop = at::zeros({batch_size * keep}, at::kBool);
      for (int64_t row = 0; row < batch_size * keep; ++row) stop[row] = options.stop_check(row_tokens(candidates_cpu, row, step + 1));
      hits |= stop.view({batch_size, keep}).to(device);
    }

    // The best unfinished continuations run on.
    const at::Tensor running_candidate_scores = top_scores + hits.to(at::kFloat) * kFinishedPenalty;
    const at::Tensor next_running = std::get<1>(at::topk(running_candidate_scores, beams));
    running = candidates.gather(1, next_running.unsqueeze(-1).expand({batch_size, beams, max_new}));
    running_scores = running_candidate_scores.gather(1, next_running);
    const at::Tensor cache_rows = (source_beam.gather(1, next_running) + batch_offset).view({rows});

    // Finished candidates among the top num_beams join the finished hypotheses if good enough.
    const at::Tensor just_finished = hits & top_mask.unsqueeze(0);
    at::Tensor final_scores = top_scores / std::pow(static_cast<double>(step + 1), options.length_penalty);
    if (options.early_stopping == EarlyStopping::WhenDone) {
      final_scores += is_finished.all(1, true).to(at::kFloat) * kFinishedPenalty;
    }
    final_scores += improvable.logical_not().to(at::kFloat) * kFinishedPenalty;
    final_scores += just_finished.logical_not().to(at::kFloat) * kFinishedPenalty;
    const at::Tensor merged_scores = at::cat({finished_scores, final_scores}, 1);
    const at::Tensor best = std::get<1>(at::topk(merged_scores, beams));
    finished = at::cat({finished, candidates}, 1).gather(1, best.unsqueeze(-1).expand({batch_size, beams, max_new}));
    finished_scores = merged_scores.gather(1, best);
    finished_lengths = at::cat({finished_lengths, at::full({batch_size, keep}, step + 1, long_options)}, 1).gather(1, best);
    is_finished = at::cat({is_finished, just_finished}, 1).gather(1, best);

    const int64_t generated = step + 1;
    const int64_t best_length =
        options.early_stopping == EarlyStopping::Never && options.length_penalty > 0 ? max_new : generated;
    const at::Tensor best_running = running_scores.narrow(1, 0, 1) / std::pow(static_cast<double>(best_length), options.length_penalty);
    const at::Tensor worst_finished = at::where(is_finished, std::get<0>(finished_scores.min(1, true)),
                                                at::full({}, kFinishedPenalty, float_options));
    improvable = improvable & (best_running > worst_finished).any(-1, true);
    const bool can_improve = improvable.any().item<bool>();
    const bool all_done = options.early_stopping == EarlyStopping::WhenDone && is_finished.all().item<bool>();
    if (!can_improve || all_done || hits.all().item<bool>()) break;

    cache.select_rows(cache_rows);
    positions = positions.index_select(0, cache_rows) + 1;
    const at::Tensor next_tokens = running.view({rows, max_new}).select(1, step).unsqueeze(1);
    logits = last_logits(model, {next_tokens, positions.unsqueeze(1), at::Tensor(), &cache});
  }

  const at::Tensor tokens_cpu = finished.cpu().contiguous();
  const at::Tensor scores_cpu = finished_scores.to(at::kDouble).cpu();
  const at::Tensor lengths_cpu = finished_lengths.cpu();
  std::vector<std::vector<GeneratedSequence>> results(static_cast<size_t>(batch_size));
  for (int64_t prompt = 0; prompt < batch_size; ++prompt) {
    for (int64_t beam = 0; beam < options.num_return_sequences; ++beam) {
      const int64_t length = lengths_cpu[prompt][beam].item<int64_t>();
      const int64_t* data = tokens_cpu.data_ptr<int64_t>() + (prompt * beams + beam) * max_new;
      results[static_cast<size_t>(prompt)].push_back({std::vector<int64_t>(data, data + length), scores_cpu[prompt][beam].item<double>()});
    }
  }
  return results;
}

}  // namespace

std::vector<std::vector<GeneratedSequence>> generate(const Transformer& model,
                                                     const std::vector<std::vector<int64_t>>& prompts,
                                                     const GenerationOptions& options) {
  if (prompts.empty()) return {};
  if (options.max_new_tokens < 1) throw UsageError("max_new_tokens must be at least 1");
  if (options.num_beams < 1) throw UsageError("num_beams must be at least 1");
  if (options.num_return_sequences < 1 || options.num_return_sequences > options.num_beams) {
    throw UsageError(cat("num_return_sequences (", options.num_return_sequences, ") must be between 1 and num_beams (",
                         options.num_beams, ")"));
  }
  if (options.do_sample && options.num_beams > 1) throw UsageError("beam sampling is not supported: use --num-beams 1 with --do-sample");
  if (options.do_sample && !(options.temperature > 0)) throw UsageError("temperature must be positive");
  if (!(options.top_p > 0 && options.top_p <= 1)) throw UsageError("top_p must be in (0, 1]");
  c10::InferenceMode inference;
  if (options.num_beams == 1) return greedy_or_sample(model, prompts, options);
  return beam_search(model, prompts, options);
}

std::vector<std::vector<GeneratedSequence>> generate_in_batches(const Transformer& model,
                                                                const std::vector<std::vector<int64_t>>& prompts,
                                                                const GenerationOptions& options, size_t batch_size) {
  return generate_in_batches(model, prompts, [&](const std::vector<size_t>&) { return options; }, batch_size);
}

std::vector<std::vector<GeneratedSequence>> generate_in_batches(const Transformer& model,
                                                                const std::vector<std::vector<int64_t>>& prompts,
                                                                const BatchOptions& options_for_batch, size_t batch_size) {
  std::vector<size_t> order(prompts.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return prompts[a].size() < prompts[b].size(); });
  std::vector<std::vector<GeneratedSequence>> results(prompts.size());
  batch_size = std::max<size_t>(1, batch_size);
  for (size_t start = 0; start < order.size(); start += batch_size) {
    const size_t end = std::min(order.size(), start + batch_size);
    const std::vector<size_t> members(order.begin() + static_cast<std::ptrdiff_t>(start),
                                      order.begin() + static_cast<std::ptrdiff_t>(end));
    std::vector<std::vector<int64_t>> batch;
    for (size_t member : members) batch.push_back(prompts[member]);
    auto batch_results = generate(model, batch, options_for_batch(members));
    for (size_t i = 0; i < members.size(); ++i) results[members[i]] = std::move(batch_results[i]);
  }
  return results;
}

std::vector<std::vector<double>> score_tokens(const Transformer& model, const std::vector<std::vector<int64_t>>& sequences) {
  check_token_ids(model.config(), sequences, "sequence");
  c10::InferenceMode inference;
  std::vector<std::vector<double>> results;
  results.reserve(sequences.size());
  for (const std::vector<int64_t>& sequence : sequences) {
    if (sequence.size() < 2) {
      results.emplace_back();
      continue;
    }
    const at::Tensor ids = at::tensor(sequence, at::kLong).unsqueeze(0).to(model.device());
    const at::Tensor hidden = model.hidden_states({ids, {}, {}, nullptr});
    const at::Tensor log_probs = model.logits(hidden.narrow(1, 0, ids.size(1) - 1)).to(at::kFloat).log_softmax(-1);
    const at::Tensor picked = log_probs.gather(2, ids.narrow(1, 1, ids.size(1) - 1).unsqueeze(-1)).squeeze(-1).squeeze(0);
    const at::Tensor host = picked.to(at::kDouble).cpu().contiguous();
    results.emplace_back(host.data_ptr<double>(), host.data_ptr<double>() + host.numel());
  }
  return results;
}

}  // namespace grlm
