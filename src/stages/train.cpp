// Stage "train" (GRLM-SPEC.md stage 5): full-parameter fine-tuning on build-sft's tokenized
// mixture, ZeRO-1/2 over MPI (CPU ranks) or NCCL (one GPU per rank); the trainer is
// src/train/trainer.cpp. The summary lands in the /train group's "summary" attribute.
#include "grlm/core/error.hpp"
#include "grlm/core/log.hpp"
#include "grlm/stages/artifacts.hpp"
#include "grlm/stages/stages.hpp"
#include "grlm/train/trainer.hpp"

namespace grlm {

void check_train_config(const Config& config, int world_size) {
  const int64_t global = config.get_int("train.global_batch_size"), micro = config.get_int("train.micro_batch_size");
  if (micro > global) {
    throw UsageError(cat(config.described("train.micro_batch_size"), " must be <= ", config.described("train.global_batch_size")));
  }
  if (global % (micro * world_size) != 0) {
    throw UsageError(cat(config.described("train.global_batch_size"), " must be a multiple of ranks x train.micro_batch_size (",
                         world_size, " x ", micro, " = ", world_size * micro, "; ", config.described("train.micro_batch_size"),
                         ")"));
  }
  if (config.get_number("train.epochs") <= 0 && config.get_int("train.max_steps") <= 0) {
    throw UsageError(cat(config.described("train.epochs"), " or ", config.described("train.max_steps"), " must be > 0"));
  }
  if (config.get_int("train.eval_steps") > 0 && config.get_number("train.val_fraction") <= 0) {
    throw UsageError(cat(config.described("train.eval_steps"), " needs a validation share: ", config.described("train.val_fraction"),
                         " must be > 0"));
  }
}

void run_train(RunContext& context, const StageRun& run) {
  const TrainOptions options = TrainOptions::from_config(context.config);
  const Config& config = context.config;
  const TrainerPaths paths{artifacts::kSftGroup, artifacts::kSftTokenizerAttribute, artifacts::train_dir(config).string(),
                           artifacts::trained_model_folder(config).string()};
  const nlohmann::json summary = run_training(context, run, options, paths);
  context.store.set_attribute("/" + run.name, "summary", summary.dump());
  log::info("train: ", summary.at("steps"), " steps, loss ", summary.at("first_loss"), " -> ", summary.at("final_loss"),
            summary.at("model").is_string() ? cat("; model exported to ", summary.at("model").get<std::string>()) : std::string());
}

}  // namespace grlm
