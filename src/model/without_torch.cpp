// Built in place of the model and train layers when grlm is configured without libtorch
// (-DGRLM_WITH_TORCH=OFF): the entry points of their torch-free headers exist and say what is
// missing, so the stages need no build switches of their own. The built-in embedder and keyword
// extractor, build-sft and every tool without a model still work.
#include "grlm/core/error.hpp"
#include "grlm/model/chat_generator.hpp"
#include "grlm/model/similarity.hpp"
#include "grlm/model/text_encoder.hpp"
#include "grlm/model/tid_recommender.hpp"
#include "grlm/train/trainer.hpp"

namespace grlm {
namespace {

[[noreturn]] void needs_libtorch(const std::string& what) {
  throw NotBuiltError(cat(what, " needs libtorch: rebuild grlm with -DGRLM_WITH_TORCH=ON"));
}

}  // namespace

std::unique_ptr<TextEncoder> TextEncoder::load(const std::string& folder, const Device&, const std::string&, const std::string&) {
  needs_libtorch("embed.model (" + folder + ")");
}

std::unique_ptr<ChatGenerator> ChatGenerator::load(const std::string& folder, const Device&, const std::string&) {
  needs_libtorch("extract.model (" + folder + ")");
}

std::unique_ptr<TidRecommender> TidRecommender::load(const std::string& folder, const Device&, const std::string&) {
  needs_libtorch("recommending with the model in " + folder);
}

void normalize_rows(std::vector<float>&, int64_t, int64_t, const std::string& source) {
  needs_libtorch("similarity search (" + source + ")");
}

NeighbourLists ring_top_k(Communicator&, const std::vector<float>&, int64_t, const SimilarityOptions&) {
  needs_libtorch("similarity search");
}

TrainOptions TrainOptions::from_config(const Config&) { needs_libtorch("stage train"); }

nlohmann::json run_training(RunContext&, const StageRun&, const TrainOptions&, const TrainerPaths&) {
  needs_libtorch("stage train");
}

}  // namespace grlm
