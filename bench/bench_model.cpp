// Model throughput on one device, without MPI: prefill tokens/s, greedy decode tokens/s and
// 20-beam tokens/s for a checkpoint folder; `parity` mode prints outputs for comparison with
// transformers on GPU (bench/bench_model.py and tests/gpu/model_gpu.py read its JSON).
//   bench_model bench  --model DIR [--device cpu|cuda] [--dtype D] [--threads T] [--batch B]
//                      [--prompt-len P] [--new-tokens N] [--beams K] [--repeats R]
//   bench_model parity --model DIR --input ids.jsonl [--device D] [--dtype D] [--new-tokens N] [--beams K]
#include <chrono>
#include <fstream>
#include <iostream>
#include <map>
#include <random>

#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>
#include <nlohmann/json.hpp>

#include "grlm/model/checkpoint.hpp"
#include "grlm/model/generation.hpp"

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::map<std::string, std::string> parse_flags(int argc, char** argv) {
  std::map<std::string, std::string> flags;
  for (int i = 2; i + 1 < argc; i += 2) flags[std::string(argv[i]).substr(2)] = argv[i + 1];
  return flags;
}

std::string flag(const std::map<std::string, std::string>& flags, const std::string& name, const std::string& fallback) {
  const auto found = flags.find(name);
  return found == flags.end() ? fallback : found->second;
}

grlm::Transformer load(const std::map<std::string, std::string>& flags) {
  grlm::LoadOptions options;
  options.device = flag(flags, "device", "cpu") == "cuda" ? at::Device(at::kCUDA, 0) : at::Device(at::kCPU);
  if (flags.count("dtype")) options.dtype = grlm::parse_dtype(flags.at("dtype"));
  return grlm::load_pretrained(flags.at("model"), options);
}

int bench(const std::map<std::string, std::string>& flags) {
  const grlm::Transformer model = load(flags);
  const int64_t batch = std::stoll(flag(flags, "batch", "1"));
  const int64_t prompt_length = std::stoll(flag(flags, "prompt-len", "64"));
  const int64_t new_tokens = std::stoll(flag(flags, "new-tokens", "32"));
  const int64_t beams = std::stoll(flag(flags, "beams", "20"));
  const int repeats = std::stoi(flag(flags, "repeats", "3"));
  std::mt19937_64 random(1);
  std::vector<std::vector<int64_t>> prompts(static_cast<size_t>(batch));
  for (auto& prompt : prompts) {
    for (int64_t i = 0; i < prompt_length; ++i) prompt.push_back(static_cast<int64_t>(random() % static_cast<uint64_t>(model.config().vocab_size)));
  }
  grlm::GenerationOptions greedy;
  greedy.max_new_tokens = new_tokens;
  greedy.pad_token_id = 0;  // no eos: every sequence runs to the limit
  grlm::GenerationOptions beam = greedy;
  beam.num_beams = beams;
  const auto best_of = [&](const std::function<void()>& work) {
    work();  // warm-up
    double best = 1e30;
    for (int r = 0; r < repeats; ++r) {
      const auto start = Clock::now();
      work();
      best = std::min(best, seconds_since(start));
    }
    return best;
  };
  at::Tensor ids = at::empty({batch, prompt_length}, at::kLong);
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t t = 0; t < prompt_length; ++t) ids[b][t] = prompts[static_cast<size_t>(b)][static_cast<size_t>(t)];
  }
  const double prefill = best_of([&] {
    c10::InferenceMode inference;
    const at::Tensor hidden = model.hidden_states({ids.to(model.device()), {}, {}, nullptr});
    model.logits(hidden.select(1, prompt_length - 1)).to(at::kFloat).cpu();
  });
  const double greedy_time = best_of([&] { grlm::generate(model, prompts, greedy); });
  const double beam_time = best_of([&] { grlm::generate(model, prompts, beam); });
  nlohmann::json result = {
      {"parameters", model.config().parameter_count()},
      {"threads", at::get_num_threads()},
      {"prefill_tokens_per_s", static_cast<double>(batch * prompt_length) / prefill},
      {"decode_tokens_per_s", static_cast<double>(batch * new_tokens) / std::max(1e-9, greedy_time - prefill)},
      {"greedy_seconds", greedy_time},
      {"beam_seconds", beam_time},
      {"beam_tokens_per_s", static_cast<double>(batch * beams * new_tokens) / beam_time}};
  std::cout << result.dump() << std::endl;
  return 0;
}

int parity(const std::map<std::string, std::string>& flags) {
  const grlm::Transformer model = load(flags);
  std::ifstream input(flags.at("input"));
  std::vector<std::vector<int64_t>> prompts;
  for (std::string line; std::getline(input, line);) prompts.push_back(nlohmann::json::parse(line)["ids"].get<std::vector<int64_t>>());
  grlm::GenerationOptions greedy;
  greedy.max_new_tokens = std::stoll(flag(flags, "new-tokens", "16"));
  // Read from config.json alone, so this program builds without the tokenizer library.
  greedy.eos_token_ids = model.config().eos_token_ids;
  greedy.pad_token_id = model.config().pad_token_id.value_or(0);
  grlm::GenerationOptions beam = greedy;
  beam.num_beams = std::stoll(flag(flags, "beams", "4"));
  beam.num_return_sequences = beam.num_beams;
  const auto log_probs = grlm::score_tokens(model, prompts);
  const auto greedy_out = grlm::generate(model, prompts, greedy);
  const auto beam_out = grlm::generate(model, prompts, beam);
  for (size_t i = 0; i < prompts.size(); ++i) {
    nlohmann::json record = {{"logprobs", log_probs[i]}, {"greedy", greedy_out[i][0].tokens}, {"beams", nlohmann::json::array()},
                             {"beam_scores", nlohmann::json::array()}};
    for (const auto& sequence : beam_out[i]) {
      record["beams"].push_back(sequence.tokens);
      record["beam_scores"].push_back(sequence.score);
    }
    std::cout << record.dump() << "\n";
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc < 2) throw std::invalid_argument("usage: bench_model bench|parity --model DIR [options]");
    const auto flags = parse_flags(argc, argv);
    if (flags.count("threads")) at::set_num_threads(std::stoi(flags.at("threads")));
    const std::string mode = argv[1];
    if (mode == "bench") return bench(flags);
    if (mode == "parity") return parity(flags);
    throw std::invalid_argument("unknown mode " + mode);
  } catch (const std::exception& error) {
    std::cerr << "bench_model: " << error.what() << "\n";
    return 1;
  }
}
