// Stage "extract" (GRLM-SPEC.md). Its implementation lands with its own issue; until then the
// pipeline stops here with a clear message and leaves the run store resumable.
#include "grlm/core/error.hpp"
#include "grlm/stages/stages.hpp"

namespace grlm {

void run_extract(RunContext& context, const StageRun& run) {
  throw NotBuiltError("stage 'extract' is not built yet in this version of grlm");
}

}  // namespace grlm
