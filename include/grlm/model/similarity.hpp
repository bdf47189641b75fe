// Exact top-k cosine similarity over rows distributed across ranks: each rank keeps its block of
// rows while the blocks travel around a ring; each rank multiplies its block by the one it holds
// (row tiles, so memory stays bounded, never N x N) and merges per-row top-k lists, while the next
// block is already on its way. Declared without torch types.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "grlm/core/comm.hpp"

namespace grlm {

struct SimilarityOptions {
  int64_t k = 20;
  bool exclude_self = true;
  std::string dtype = "float32";  // matrix products in "float32" or "bfloat16" (scores are float32)
  int64_t tile_elements = 32 << 20;  // score tile size (rows x block rows), bounds memory
  // -1: the CPU (host blocks over `comm`, a per-row insertion merge). A CUDA ordinal: rows and
  // blocks live on that GPU, circulate over an NCCL communicator built from `comm` on a stream of
  // their own (so the transfer overlaps the products), and merge by tensor top-k.
  int cuda_device = -1;
  // The GPU's merge (tensor top-k, exact ties by index) on the CPU: how tests check it without one.
  bool tensor_merge = false;
};

// Per local row, the k best other rows: global row indices and cosine scores, best first; ties
// go to the lower index.
struct NeighbourLists {
  int64_t rows = 0;
  int64_t k = 0;
  std::vector<int64_t> ids;   // rows x k
  std::vector<float> scores;  // rows x k
};

// Checks every row (finite, non-zero norm; InputError naming the global row) and scales it to
// unit length. `first_row` is the global index of the first local row.
void normalize_rows(std::vector<float>& rows, int64_t dim, int64_t first_row, const std::string& source);

// Collective over `comm` (the MPI world; on a GPU it bootstraps the NCCL ring). `local` holds this
// rank's rows, row-major; ranks hold consecutive blocks in rank order. k must be below the global
// row count.
NeighbourLists ring_top_k(Communicator& comm, const std::vector<float>& local, int64_t dim, const SimilarityOptions& options);

}  // namespace grlm
