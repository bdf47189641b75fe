#include "grlm/model/similarity.hpp"

#include <cmath>
#include <functional>
#include <limits>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>
#ifdef GRLM_HAVE_CUDA
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

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

namespace {

// Who holds which rows: every rank's row count and first global row.
struct RingLayout {
  std::vector<int64_t> counts;
  std::vector<int64_t> offsets;  // ranks + 1 entries; offsets.back() = total rows
  int64_t max_rows = 0;
  int64_t total() const { return offsets.back(); }
};

RingLayout ring_layout(Communicator& comm, int64_t local_rows) {
  RingLayout layout;
  layout.counts.resize(static_cast<size_t>(comm.size()));
  comm.all_gather(&local_rows, layout.counts.data(), 1, DType::Int64);
  layout.offsets.assign(layout.counts.size() + 1, 0);
  for (size_t r = 0; r < layout.counts.size(); ++r) layout.offsets[r + 1] = layout.offsets[r] + layout.counts[r];
  layout.max_rows = *std::max_element(layout.counts.begin(), layout.counts.end());
  return layout;
}

NeighbourLists empty_lists(int64_t rows, int64_t k) {
  NeighbourLists lists;
  lists.rows = rows;
  lists.k = k;
  lists.ids.assign(static_cast<size_t>(rows * k), std::numeric_limits<int64_t>::max());
  lists.scores.assign(static_cast<size_t>(rows * k), -std::numeric_limits<float>::infinity());
  return lists;
}

// The block a rank holds at one step of the ring.
struct HeldBlock {
  int owner = 0;               // the rank whose rows these are
  int64_t first = 0;           // their first global row
  int64_t rows = 0;
  const void* data = nullptr;  // rows x dim in the ring's dtype
};

// One pass of the ring, the same for both forms: at each step this rank multiplies the block it
// holds (`on_block` once, then `on_tile` per tile of its own rows, at most `tile_elements`
// scores) while the next block arrives from the left neighbour into the other buffer. `settle`
// runs before a buffer is handed to the transfer.
void circulate(Communicator& comm, const RingLayout& layout, void* held, void* arriving, size_t count, DType dtype,
               int64_t tile_elements, const std::function<void(const HeldBlock&)>& on_block,
               const std::function<void(const HeldBlock&, int64_t tile_first, int64_t tile_rows)>& on_tile,
               const std::function<void()>& settle) {
  const int ranks = comm.size();
  const int rank = comm.rank();
  const int64_t local_rows = layout.counts[static_cast<size_t>(rank)];
  for (int step = 0; step < ranks; ++step) {
    settle();
    std::unique_ptr<PendingExchange> exchange;
    if (step + 1 < ranks) {
      exchange = comm.start_exchange(held, count, (rank + 1) % ranks, arriving, count, (rank - 1 + ranks) % ranks, dtype);
    }
    const int owner = (rank - step + ranks) % ranks;
    const HeldBlock block{owner, layout.offsets[static_cast<size_t>(owner)], layout.counts[static_cast<size_t>(owner)], held};
    if (block.rows > 0 && local_rows > 0) {
      on_block(block);
      const int64_t tile_rows = std::max<int64_t>(1, tile_elements / block.rows);
      for (int64_t tile_first = 0; tile_first < local_rows; tile_first += tile_rows) {
        on_tile(block, tile_first, std::min(tile_rows, local_rows - tile_first));
        if (exchange) exchange->progress();
      }
    }
    if (exchange) {
      exchange->wait();
      std::swap(held, arriving);
    }
  }
}

// CPU: host blocks (float32) travel over `comm` (MPI) while per-row insertion lists take each
// score tile.
NeighbourLists host_ring(Communicator& comm, const std::vector<float>& local, int64_t dim, const SimilarityOptions& options,
                         const RingLayout& layout) {
  const int64_t local_rows = layout.counts[static_cast<size_t>(comm.rank())];
  const int64_t k = options.k;
  const at::ScalarType type = matmul_type(options.dtype);
  NeighbourLists lists = empty_lists(local_rows, k);
  const at::Tensor mine = at::from_blob(const_cast<float*>(local.data()), {local_rows, dim}, at::kFloat).to(type);
  std::vector<float> held(static_cast<size_t>(layout.max_rows * dim), 0.0f);
  std::vector<float> arriving(held.size(), 0.0f);
  std::copy(local.begin(), local.end(), held.begin());
  at::Tensor block_t;  // the held block, transposed, in the matmul dtype
  const auto on_block = [&](const HeldBlock& block) {
    block_t = at::from_blob(const_cast<void*>(block.data), {block.rows, dim}, at::kFloat).to(type).t().contiguous();
  };
  const auto on_tile = [&](const HeldBlock& block, int64_t tile_first, int64_t rows) {
    const at::Tensor scores = at::mm(mine.narrow(0, tile_first, rows), block_t).to(at::kFloat).contiguous();
    const float* score_data = scores.data_ptr<float>();
    const bool own_block = block.owner == comm.rank() && options.exclude_self;
    at::parallel_for(0, rows, 16, [&](int64_t begin, int64_t end) {
      for (int64_t row = begin; row < end; ++row) {
        const int64_t local_row = tile_first + row;
        RowTopK best{lists.scores.data() + local_row * k, lists.ids.data() + local_row * k, k};
        const float* row_scores = score_data + row * block.rows;
        for (int64_t column = 0; column < block.rows; ++column) {
          if (own_block && column == local_row) continue;
          best.offer(row_scores[column], block.first + column);
        }
      }
    });
  };
  circulate(comm, layout, held.data(), arriving.data(), held.size(), DType::Float32, options.tile_elements, on_block, on_tile,
            [] {});
  return lists;
}

// Per row of `scores` [rows, columns], its `count` best columns (higher score, then lower column)
// in ascending column order, and their scores. at::topk alone leaves the choice among scores tied
// at the threshold to the kernel; the running count of tied columns makes it the lowest ones.
std::pair<at::Tensor, at::Tensor> tile_top_k(const at::Tensor& scores, int64_t count) {
  const at::Tensor threshold = std::get<0>(at::topk(scores, count, 1, true, false)).amin(1, true);
  const at::Tensor above = scores > threshold;
  const at::Tensor tied = scores == threshold;
  const at::Tensor tied_wanted = at::sum(above, at::IntArrayRef{1}, true, at::kInt).neg().add(count);
  const at::Tensor chosen = above.logical_or(tied.logical_and(tied.cumsum(1, at::kInt) <= tied_wanted));
  const at::Tensor columns = chosen.nonzero().select(1, 1).reshape({scores.size(0), count});
  return {scores.gather(1, columns), columns};
}

// best_* [rows, k] become the k best of themselves and the candidates: higher score, then lower id.
void merge_best(at::Tensor best_scores, at::Tensor best_ids, const at::Tensor& scores, const at::Tensor& ids) {
  const at::Tensor all_ids = at::cat({best_ids, ids}, 1);
  const at::Tensor by_id = all_ids.argsort(/*dim=*/int64_t{1}, /*descending=*/false);
  const at::Tensor ids_by_id = all_ids.gather(1, by_id);
  const at::Tensor scores_by_id = at::cat({best_scores, scores}, 1).gather(1, by_id);
  // A stable sort keeps ascending ids among equal scores.
  const at::Tensor order =
      std::get<1>(at::sort(scores_by_id, /*stable=*/true, 1, /*descending=*/true)).narrow(1, 0, best_scores.size(1));
  best_scores.copy_(scores_by_id.gather(1, order));
  best_ids.copy_(ids_by_id.gather(1, order));
}

DType comm_dtype(at::ScalarType type) { return type == at::kBFloat16 ? DType::BFloat16 : DType::Float32; }

// The GPU's ring (also run on the CPU for tests): blocks are tensors in the matmul dtype on the
// device, sent over `comm` (NCCL on a GPU, MPI on the CPU), merged by tile_top_k + merge_best.
NeighbourLists tensor_ring(Communicator& comm, const std::vector<float>& local, int64_t dim, const SimilarityOptions& options,
                           const RingLayout& layout, at::Device device, const std::function<void()>& settle) {
  const int64_t local_rows = layout.counts[static_cast<size_t>(comm.rank())];
  const int64_t k = options.k;
  const at::ScalarType type = matmul_type(options.dtype);
  const at::Tensor mine =
      at::from_blob(const_cast<float*>(local.data()), {local_rows, dim}, at::kFloat).to(device, type).contiguous();
  at::Tensor held = at::zeros({layout.max_rows, dim}, mine.options());
  at::Tensor arriving = at::zeros_like(held);
  held.narrow(0, 0, local_rows).copy_(mine);
  at::Tensor best_scores = at::full({local_rows, k}, -std::numeric_limits<float>::infinity(), mine.options().dtype(at::kFloat));
  at::Tensor best_ids = at::full({local_rows, k}, std::numeric_limits<int64_t>::max(), mine.options().dtype(at::kLong));
  at::Tensor block_t;
  const auto on_block = [&](const HeldBlock& block) {
    block_t = at::from_blob(const_cast<void*>(block.data), {block.rows, dim}, mine.options()).t();
  };
  const auto on_tile = [&](const HeldBlock& block, int64_t tile_first, int64_t rows) {
    at::Tensor scores = at::mm(mine.narrow(0, tile_first, rows), block_t).to(at::kFloat);
    if (block.owner == comm.rank() && options.exclude_self) {
      scores.diagonal(tile_first).fill_(-std::numeric_limits<float>::infinity());
    }
    const auto [tile_scores, columns] = tile_top_k(scores, std::min(k, block.rows));
    merge_best(best_scores.narrow(0, tile_first, rows), best_ids.narrow(0, tile_first, rows), tile_scores,
               columns + block.first);
  };
  // settle: the transfer overwrites `arriving`, which the last step's products read as `held`.
  circulate(comm, layout, held.data_ptr(), arriving.data_ptr(), static_cast<size_t>(held.numel()), comm_dtype(type),
            options.tile_elements, on_block, on_tile, settle);
  NeighbourLists lists = empty_lists(local_rows, k);
  const at::Tensor host_scores = best_scores.cpu().contiguous();
  const at::Tensor host_ids = best_ids.cpu().contiguous();
  std::copy_n(host_scores.data_ptr<float>(), host_scores.numel(), lists.scores.begin());
  std::copy_n(host_ids.data_ptr<int64_t>(), host_ids.numel(), lists.ids.begin());
  return lists;
}

#ifdef GRLM_HAVE_CUDA
// The NCCL ring on this rank's GPU: its own stream, so sends and receives overlap the products on
// the current stream; `settle` makes the host wait for those products before a block is reused.
NeighbourLists cuda_ring(Communicator& world, const std::vector<float>& local, int64_t dim, const SimilarityOptions& options,
                         const RingLayout& layout) {
  const auto index = static_cast<c10::DeviceIndex>(options.cuda_device);
  c10::cuda::CUDAGuard guard(index);
  const auto settle = [index] { c10::cuda::getCurrentCUDAStream(index).synchronize(); };
  const at::Device device(at::kCUDA, index);
  if (world.size() == 1) return tensor_ring(world, local, dim, options, layout, device, settle);  // nothing travels
  c10::cuda::CUDAStream transfers = c10::cuda::getStreamFromPool(false, index);
  const std::unique_ptr<Communicator> nccl = make_nccl_communicator(world, transfers.stream());
  return tensor_ring(*nccl, local, dim, options, layout, device, settle);
}
#endif

}  // namespace

NeighbourLists ring_top_k(Communicator& comm, const std::vector<float>& local, int64_t dim, const SimilarityOptions& options) {
  c10::InferenceMode inference;
  const int64_t local_rows = dim > 0 ? static_cast<int64_t>(local.size()) / dim : 0;
  const RingLayout layout = ring_layout(comm, local_rows);
  if (options.k < 1 || options.k >= layout.total()) {
    throw UsageError(cat("k = ", options.k, " must be between 1 and the number of rows - 1 (", layout.total() - 1, ")"));
  }
  if (options.cuda_device >= 0) {
#ifdef GRLM_HAVE_CUDA
    return cuda_ring(comm, local, dim, options, layout);
#else
    throw UsageError("similar on cuda needs grlm built with CUDA and NCCL");
#endif
  }
  if (options.tensor_merge) return tensor_ring(comm, local, dim, options, layout, at::kCPU, [] {});
  return host_ring(comm, local, dim, options, layout);
}

}  // namespace grlm
