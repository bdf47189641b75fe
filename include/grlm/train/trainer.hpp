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

// The train.* keys as the trainer uses them. Every value comes from the config (from_config): the
// schema (src/core/config_schema.cpp) is the one place of their defaults, ranges and help.
struct TrainOptions {
  std::optional<std::string> model;  // Hugging Face checkpoint folder; unset: from scratch
  // From scratch: a Qwen3 of these sizes with build-sft's tokenizer vocabulary.
  int64_t hidden_size{}, layers{}, heads{}, kv_heads{}, intermediate_size{}, head_dim{};
  int zero_stage{};
  int64_t global_batch_size{}, micro_batch_size{};
  double epochs{};
  int64_t max_steps{};  // > 0 overrides epochs
  double lr{}, warmup_ratio{}, weight_decay{};
  double adam_beta1{}, adam_beta2{}, adam_epsilon{}, max_grad_norm{};
  int64_t seed{};
  std::string dtype;  // auto | float32 | bfloat16 | float64
  bool activation_checkpointing{};
  double bucket_mb{};
  int64_t save_steps{}, log_steps{}, eval_steps{}, stop_after_steps{}, max_bad_steps{};
  double val_fraction{};
  double peak_tflops{};  // per device; 0: known GPUs' bf16 peak, none on CPU (MFU not shown)
  bool export_model{};
  int64_t export_steps{};  // > 0: also export every N steps to run_dir/train/exports/step-N

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
