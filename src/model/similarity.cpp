#include "grlm/model/similarity.hpp"

#include <cmath>
#include <limits>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>

#include "grlm/core/error.hpp"

namespace grlm {
namespace {

// A row's best k so far, best first: higher score, then lower index.
struct RowTopK {
  float* scores;
  int64_t* ids;
  int64_t k;

  bool better(float score, int64_t id, int64_t slot) const {
    return score > scores[slot] || (score == scores[slot] && id < ids[slot]);
  }
  void offer(float score, int64_t id) {
    if (!better(score, id, k - 1)) return;
    int64_t slot = k - 1;
    while (slot > 0 && better(score, id, slot - 1)) {
      scores[slot] = scores[slot - 1];
      ids[slot] = ids[slot - 1];
      --slot;
    }
    scores[slot] = score;
    ids[slot] = id;
  }
};

at::ScalarType matmul_type(const std::string& dtype) {
  if (dtype == "float32") return at::kFloat;
  if (dtype == "bfloat16") return at::kBFloat16;
  throw UsageError(cat("similar.dtype must be float32 or bfloat16, got '", dtype, "'"));
}

}  // namespace

void normalize_rows(std::vector<float>& rows, int64_t dim, int64_t first_row, const std::string& source) {
  const int64_t count = dim > 0 ? static_cast<int64_t>(rows.size()) / dim : 0;
  for (int64_t row = 0; row < count; ++row) {
    float* values = rows.data() + row * dim;
    double squared = 0;
    for (int64_t j = 0; j < dim; ++j) {
      if (!std::isfinite(values[j])) {
        throw InputError(cat(source, ": row ", first_row + row, " has a non-finite value (", values[j], ") in column ", j));
      }
      squared += static_cast<double>(values[j]) * values[j];
    }
    if (squared == 0) throw InputError(cat(source, ": row ", first_row + row, " is all zeros (cosine similarity is undefined)"));
    const float scale = static_cast<float>(1.0 / std::sqrt(squared));
    for (int64_t j = 0; j < dim; ++j) values[j] *= scale;
  }
}

NeighbourLists ring_top_k(Communicator& comm, const std::vector<float>& local, int64_t dim, const SimilarityOptions& options) {
  c10::InferenceMode inference;
  const int ranks = comm.size();
  const int rank = comm.rank();
  const int64_t local_rows = dim > 0 ? static_cast<int64_t>(local.size()) / dim : 0;
  std::vector<int64_t> counts(static_cast<size_t>(ranks));
  comm.all_gather(&local_rows, counts.data(), 1, DType::Int64);
  std::vector<int64_t> offsets(static_cast<size_t>(ranks) + 1, 0);
  for (int r = 0; r < ranks; ++r) offsets[static_cast<size_t>(r) + 1] = offsets[static_cast<size_t>(r)] + counts[static_cast<size_t>(r)];
  const int64_t total = offsets.back();
  const int64_t k = options.k;
  if (k < 1 || k >= total) throw UsageError(cat("k = ", k, " must be between 1 and the number of rows - 1 (", total - 1, ")"));
  const int64_t max_rows = *std::max_element(counts.begin(), counts.end());
  const at::ScalarType type = matmul_type(options.dtype);

  NeighbourLists lists;
  lists.rows = local_rows;
  lists.k = k;
  lists.ids.assign(static_cast<size_t>(local_rows * k), std::numeric_limits<int64_t>::max());
  lists.scores.assign(static_cast<size_t>(local_rows * k), -std::numeric_limits<float>::infinity());

  const at::Tensor mine = at::from_blob(const_cast<float*>(local.data()), {local_rows, dim}, at::kFloat).to(type);
  // Two buffers: the block being multiplied and the one arriving from the left neighbour.
  std::vector<float> held(static_cast<size_t>(max_rows * dim), 0.0f);
  std::vector<float> arriving(held.size(), 0.0f);
  std::copy(local.begin(), local.end(), held.begin());
  for (int step = 0; step < ranks; ++step) {
    const int owner = (rank - step + ranks) % ranks;  // whose block `held` is
    std::unique_ptr<PendingExchange> exchange;
    if (step + 1 < ranks) {
      exchange = comm.start_exchange(held.data(), held.size(), (rank + 1) % ranks, arriving.data(), arriving.size(),
                                     (rank - 1 + ranks) % ranks, DType::Float32);
    }
    const int64_t block_rows = counts[static_cast<size_t>(owner)];
    const int64_t block_first = offsets[static_cast<size_t>(owner)];
    if (block_rows > 0 && local_rows > 0) {
      const at::Tensor block = at::from_blob(held.data(), {block_rows, dim}, at::kFloat).to(type).t().contiguous();
      const int64_t tile_rows = std::max<int64_t>(1, options.tile_elements / block_rows);
      for (int64_t tile_first = 0; tile_first < local_rows; tile_first += tile_rows) {
        const int64_t rows = std::min(tile_rows, local_rows - tile_first);
        const at::Tensor scores = at::mm(mine.narrow(0, tile_first, rows), block).to(at::kFloat).contiguous();
        const float* score_data = scores.data_ptr<float>();
        const bool own_block = owner == rank && options.exclude_self;
        at::parallel_for(0, rows, 16, [&](int64_t begin, int64_t end) {
          for (int64_t row = begin; row < end; ++row) {
            const int64_t local_row = tile_first + row;
            RowTopK best{lists.scores.data() + local_row * k, lists.ids.data() + local_row * k, k};
            const float* row_scores = score_data + row * block_rows;
            for (int64_t column = 0; column < block_rows; ++column) {
              if (own_block && column == local_row) continue;
              best.offer(row_scores[column], block_first + column);
            }
          }
        });
        if (exchange) exchange->progress();
      }
    }
    if (exchange) {
      exchange->wait();
      std::swap(held, arriving);
    }
  }
  return lists;
}

}  // namespace grlm
