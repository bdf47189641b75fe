// Stage "train" (GRLM-SPEC.md stage 5): full-parameter fine-tuning on build-sft's tokenized
// mixture, ZeRO-1/2 over MPI (CPU ranks) or NCCL (one GPU per rank); the trainer is
// src/train/trainer.cpp. The summary lands in the /train group's "summary" attribute.
#include "grlm/core/error.hpp"
#include "grlm/core/log.hpp"
#include "grlm/stages/stages.hpp"
#ifdef GRLM_HAVE_TORCH
#include "grlm/train/trainer.hpp"
#endif

namespace grlm {

void run_train(RunContext& context, const StageRun& run) {
#ifdef GRLM_HAVE_TORCH
  const TrainOptions options = TrainOptions::from_config(context.config);
  const nlohmann::json summary = run_training(context, run, options);
  context.store.set_attribute("/" + run.name, "summary", summary.dump());
  log::info("train: ", summary.at("steps"), " steps, loss ", summary.at("first_loss"), " -> ", summary.at("final_loss"),
            summary.at("model").is_string() ? cat("; model exported to ", summary.at("model").get<std::string>()) : std::string());
#else
  throw NotBuiltError("stage 'train' needs libtorch: rebuild grlm with -DGRLM_WITH_TORCH=ON");
#endif
}

}  // namespace grlm
