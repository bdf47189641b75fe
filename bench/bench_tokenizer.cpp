// Tokenizer encode throughput (MB/s of UTF-8 input) on one thread and on all cores.
// Usage: bench_tokenizer TOKENIZER.json CORPUS.jsonl [REPEATS]; prints one JSON line.
#include <chrono>
#include <fstream>
#include <iostream>
#include <thread>

#include <nlohmann/json.hpp>

#include "grlm/text/tokenizer.hpp"

namespace {

double seconds_of(const std::function<void()>& work) {
  const auto start = std::chrono::steady_clock::now();
  work();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: bench_tokenizer TOKENIZER.json CORPUS.jsonl [REPEATS]\n";
    return 2;
  }
  const grlm::Tokenizer tokenizer = grlm::Tokenizer::load(argv[1]);
  const int repeats = argc > 3 ? std::stoi(argv[3]) : 3;
  std::vector<std::string> texts;
  size_t bytes = 0;
  std::ifstream in(argv[2]);
  for (std::string line; std::getline(in, line);) {
    texts.push_back(nlohmann::json::parse(line).get<std::string>());
    bytes += texts.back().size();
  }
  size_t tokens = 0;
  for (const auto& text : texts) tokens += tokenizer.encode(text).size();  // warm-up (fills the word cache)
  double single = 1e30;
  double all = 1e30;
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  for (int r = 0; r < repeats; ++r) {
    single = std::min(single, seconds_of([&] {
      for (const auto& text : texts) tokenizer.encode(text);
    }));
    all = std::min(all, seconds_of([&] { tokenizer.encode_batch(texts, false, cores); }));
  }
  const double megabytes = static_cast<double>(bytes) / 1e6;
  std::cout << nlohmann::json{{"texts", texts.size()}, {"megabytes", megabytes}, {"tokens", tokens},
                              {"threads_all", cores},
                              {"grlm_mb_per_s_1_thread", megabytes / single},
                              {"grlm_mb_per_s_all_threads", megabytes / all}}
                   .dump()
            << std::endl;
  return 0;
}
