// Supervised fine-tuning of a Qwen3/Qwen2 model on build-sft's tokenized mixture, data-parallel
// over all ranks with ZeRO-1/2 (train/zero.hpp), checkpointed in the run store and resumable,
// exported as a Hugging Face checkpoint. Torch-free header: the stage includes it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "grlm/core/pipeline.hpp"

namespace grlm {

struct TrainOptions {
  std::optional<std::string> model;  // Hugging Face checkpoint folder; unset: from scratch
  // From scratch: a Qwen3 of these sizes with build-sft's tokenizer vocabulary.
  int64_t hidden_size = 256, layers = 4, heads = 4, kv_heads = 2, intermediate_size = 768, head_dim = 64;
  int zero_stage = 2;
  int64_t global_batch_size = 128, micro_batch_size = 2;
  double epochs = 3;
  int64_t max_steps = 0;  // > 0 overrides epochs
  double lr = 1e-4, warmup_ratio = 0.1, weight_decay = 0.0;
  double adam_beta1 = 0.9, adam_beta2 = 0.95, adam_epsilon = 1e-8, max_grad_norm = 1.0;
  int64_t seed = 42;
  std::string dtype = "auto";  // auto: bfloat16 on cuda, float32 on cpu
  bool activation_checkpointing = false;
  double bucket_mb = 25;
  int64_t save_steps = 500, log_steps = 10, eval_steps = 0, stop_after_steps = 0, max_bad_steps = 5;
  double val_fraction = 0.0;
  double peak_tflops = 0;  // per device; 0: known GPUs' bf16 peak, none on CPU (MFU not shown)
  bool export_model = true;
  int64_t export_steps = 0;  // > 0: also export every N steps to run_dir/train/exports/step-N

  static TrainOptions from_config(const Config& config);
};

// Where the trainer reads build-sft's output and writes its own files (the stage passes them
// from artifacts.hpp: the trainer names no other stage's data).
struct TrainerPaths {
  std::string sft_group;            // token_ids, loss_mask, sample_offsets
  std::string tokenizer_attribute;  // on sft_group: the tokenizer.json the samples were rendered with
  std::string curve_folder;         // curve.{csv,json}, exports/step-N
  std::string model_folder;         // the exported checkpoint
};

// Trains (or resumes) and returns the stage's completion record.
nlohmann::json run_training(RunContext& context, const StageRun& run, const TrainOptions& options, const TrainerPaths& paths);

}  // namespace grlm
