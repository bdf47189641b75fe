// One-device training throughput of grlm's trainer pieces (transformer + ZeRO-2 optimizer on a
// one-rank communicator: NCCL on a GPU, the local one on the CPU; fp32 master weights, AdamW,
// clipping), for the GPU benchmark of issue 9:
// a Qwen3-shaped random model, micro-batches of random tokens of one length, every position
// trained. Prints one JSON line: tokens/s, MFU against --peak-tflops, peak memory.
// Usage: bench_train_gpu --hidden H --layers L --heads A --kv-heads K --intermediate I --vocab V
//        --seq T --micro B --steps S [--device cuda|cpu] [--dtype bfloat16] [--peak-tflops 989.4]
//        [--checkpointing]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>

#include <ATen/ATen.h>
#ifdef GRLM_BENCH_CUDA
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAStream.h>
#endif

#include "grlm/core/comm.hpp"
#include "grlm/model/checkpoint.hpp"
#include "grlm/train/zero.hpp"

using namespace grlm;

int main(int argc, char** argv) {
  std::map<std::string, std::string> args = {{"--hidden", "896"}, {"--layers", "24"}, {"--heads", "14"},
                                             {"--kv-heads", "2"}, {"--intermediate", "4864"}, {"--vocab", "151936"},
                                             {"--seq", "1024"}, {"--micro", "4"}, {"--steps", "12"}, {"--device", "cuda"},
                                             {"--dtype", "bfloat16"}, {"--peak-tflops", "989.4"}, {"--checkpointing", "0"}};
  for (int i = 1; i < argc; ++i) {
    const std::string key = argv[i];
    if (key == "--checkpointing") {
      args[key] = "1";
    } else if (i + 1 < argc) {
      args[key] = argv[++i];
    }
  }
  const auto number = [&](const char* key) { return std::stoll(args.at(key)); };
  const nlohmann::json config_json = {
      {"model_type", "qwen3"}, {"vocab_size", number("--vocab")}, {"hidden_size", number("--hidden")},
      {"intermediate_size", number("--intermediate")}, {"num_hidden_layers", number("--layers")},
      {"num_attention_heads", number("--heads")}, {"num_key_value_heads", number("--kv-heads")},
      {"head_dim", number("--hidden") / number("--heads")}, {"max_position_embeddings", 4096},
      {"rope_theta", 1000000.0}, {"tie_word_embeddings", true}, {"rms_norm_eps", 1e-6}};
  const ModelConfig config = ModelConfig::from_json(config_json, "bench");
  const at::Device device = args["--device"] == "cuda" ? at::Device(at::kCUDA, 0) : at::Device(at::kCPU);
  const at::ScalarType dtype = parse_dtype(args["--dtype"]);
  Transformer model = init_from_config(config, 1, dtype, device);
  model.set_activation_checkpointing(args["--checkpointing"] == "1");
  // The local communicator copies host memory; device buffers go through NCCL (of one rank), as
  // in grlm train.
  std::unique_ptr<Communicator> local = make_local_communicator();
  std::unique_ptr<Communicator> comm;
#ifdef GRLM_BENCH_CUDA
  if (device.is_cuda()) comm = make_nccl_communicator(*local, c10::cuda::getCurrentCUDAStream(0).stream());
#endif
  if (!comm) comm = std::move(local);
  ZeroOptions options;
  options.stage = 2;
  options.bucket_elements = 25 * 1024 * 1024 / 2;
  ZeroOptimizer zero(model, *comm, options);
  const int64_t micro = number("--micro"), seq = number("--seq"), steps = number("--steps");
  const auto sync = [&] {
#ifdef GRLM_BENCH_CUDA
    if (device.is_cuda()) at::cuda::device_synchronize();
#endif
  };
  double timed = 0;
  int64_t timed_steps = 0;
  double last_loss = 0;
  for (int64_t step = 0; step < steps; ++step) {
    const at::Tensor ids = at::randint(config.vocab_size, {micro, seq}, at::TensorOptions().dtype(at::kLong)).to(device);
    sync();
    const auto started = std::chrono::steady_clock::now();
    zero.begin_micro_step(0, 1);
    const at::Tensor hidden = model.hidden_states({ids, {}, {}, nullptr});
    const at::Tensor logits = model.logits(hidden.narrow(1, 0, seq - 1)).to(at::kFloat);
    const at::Tensor loss = at::cross_entropy_loss(logits.reshape({-1, logits.size(-1)}),
                                                   ids.narrow(1, 1, seq - 1).reshape(-1));
    loss.backward();
    zero.finish_gradients();
    zero.step(1e-4, 1.0);
    sync();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    last_loss = loss.item<double>();
    if (step >= 2) {
      timed += seconds;
      ++timed_steps;
    }
  }
  double body = 0;
  for (const auto& [name, tensor] : model.storage_tensors()) {
    if (name != "model.embed_tokens.weight" && name != "lm_head.weight") body += static_cast<double>(tensor.numel());
  }
  const double tokens = static_cast<double>(micro * seq);
  const double flops = 6 * body * tokens + 6.0 * config.vocab_size * config.hidden_size * micro * (seq - 1) +
                       6.0 * config.num_hidden_layers * config.num_attention_heads * config.head_dim * micro * seq * seq;
  const double step_seconds = timed / static_cast<double>(std::max<int64_t>(1, timed_steps));
  double peak = 0;
#ifdef GRLM_BENCH_CUDA
  if (device.is_cuda()) peak = static_cast<double>(c10::cuda::CUDACachingAllocator::getDeviceStats(0).allocated_bytes[0].peak);
#endif
  const double peak_tflops = std::stod(args["--peak-tflops"]);
  std::printf("{\"parameters\": %lld, \"step_seconds\": %.6f, \"tokens_per_s\": %.1f, \"mfu\": %.4f, \"peak_bytes\": %.0f, \"loss\": %.4f}\n",
              static_cast<long long>(config.parameter_count()), step_seconds, tokens / step_seconds,
              peak_tflops > 0 ? flops / step_seconds / (peak_tflops * 1e12) : 0.0, peak, last_loss);
  return 0;
}
