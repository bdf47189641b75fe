// The GRLM pipeline's stages, one entry point each (src/stages/<stage>.cpp), and their order.
#pragma once

#include "grlm/core/pipeline.hpp"

namespace grlm {

void run_embed(RunContext& context, const StageRun& run);
void run_similar(RunContext& context, const StageRun& run);
void run_extract(RunContext& context, const StageRun& run);
void run_build_sft(RunContext& context, const StageRun& run);
void run_train(RunContext& context, const StageRun& run);
void run_evaluate(RunContext& context, const StageRun& run);

// embed -> similar -> extract -> build-sft -> train -> evaluate, with what each depends on.
Pipeline grlm_pipeline();

}  // namespace grlm
