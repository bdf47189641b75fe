// ZeRO-style data parallelism (stages 1 and 2) over the Communicator interface: the model's
// parameters become views of one flat buffer split into buckets; gradients are reduce-scattered
// bucket by bucket as backward produces them; each rank keeps 1/N of the fp32 master weights and
// AdamW moments, updates its part and all-gathers the new parameters. The code only sees the
// Communicator, so MPI (CPU) and NCCL (GPU) run the same algorithm.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "grlm/core/comm.hpp"
#include "grlm/model/transformer.hpp"

namespace grlm {

// Where every parameter lives in the flat buffer and which part of each bucket a rank owns.
// Buckets hold whole parameters in backward order (last layers first) and are padded to a
// multiple of the world size; rank r owns the r-th 1/N of every bucket, and its shard is those
// slices one after another. The layout depends only on the parameter sizes, the world size and
// the bucket size, so a checkpoint can be re-sharded for another world size.
struct ZeroLayout {
  struct Parameter {
    std::string name;
    int64_t numel = 0;
    int64_t flat_offset = 0;  // in the padded flat buffer
    size_t bucket = 0;
    bool decay = true;        // AdamW weight decay (not for norms and biases)
  };
  struct Bucket {
    int64_t flat_offset = 0;
    int64_t numel = 0;         // padded: a multiple of world_size
    int64_t shard_numel = 0;   // numel / world_size
    int64_t shard_offset = 0;  // where this bucket's slice starts in a rank's shard
    std::vector<size_t> parameters;
  };
  std::vector<Parameter> parameters;  // in the model's storage order
  std::vector<Bucket> buckets;        // in flat (backward) order
  int world_size = 1;
  int64_t flat_numel = 0;
  int64_t shard_numel = 0;

  static ZeroLayout build(const std::vector<std::pair<std::string, int64_t>>& names_and_sizes, int world_size,
                          int64_t bucket_elements);
  int64_t unpadded_numel() const;
  // Contiguous runs of a rank's shard: (offset in shard, offset in the unpadded parameter order,
  // length) — how a shard maps to the model independent of the world size.
  struct Run {
    int64_t shard_offset, model_offset, length;
    size_t parameter;  // index in `parameters`
  };
  std::vector<Run> shard_runs(int rank) const;
};

// The communicator's (and run store's) element type of a tensor dtype.
DType comm_dtype(at::ScalarType type);

struct ZeroOptions {
  int stage = 2;
  int64_t bucket_elements = 25'000'000;
  double beta1 = 0.9, beta2 = 0.95, epsilon = 1e-8, weight_decay = 0.0;
};

struct StepOutcome {
  bool applied = false;    // false: a gradient was NaN/inf and the step was skipped
  double grad_norm = 0.0;  // global norm before clipping
};

class ZeroOptimizer {
 public:
  // Takes over the model's parameters (they become views of the flat buffer, with requires_grad)
  // and sets the master weights from them.
  ZeroOptimizer(Transformer& model, Communicator& comm, const ZeroOptions& options);
  ~ZeroOptimizer();
  ZeroOptimizer(const ZeroOptimizer&) = delete;
  ZeroOptimizer& operator=(const ZeroOptimizer&) = delete;

  const ZeroLayout& layout() const { return layout_; }
  at::ScalarType master_dtype() const { return master_.scalar_type(); }

  // Before micro-step `index` (0-based) of `count` of an optimizer step: on the last one the
  // gradients are reduce-scattered as buckets complete; before that they only accumulate locally
  // (in fp32 when the working dtype has 16 bits).
  void begin_micro_step(int64_t index, int64_t count);
  // After the last micro-step's backward: every bucket reduced (missing gradients count as zero).
  void finish_gradients();
  // Global gradient norm, clipping to max_grad_norm (<= 0: none), AdamW with `lr`, all-gather of
  // the new parameters; skipped (nothing changes) when a gradient is not finite.
  StepOutcome step(double lr, double max_grad_norm);

  // This rank's optimizer state (1/N of the model each): fp32 (float64 when training in float64).
  at::Tensor& master() { return master_; }
  at::Tensor& exp_avg() { return exp_avg_; }
  at::Tensor& exp_avg_sq() { return exp_avg_sq_; }
  int64_t adam_steps() const { return adam_steps_; }
  void set_adam_steps(int64_t steps) { adam_steps_ = steps; }
  // After master() was replaced (resume): the working parameters follow it on every rank.
  void load_parameters_from_master();
  int64_t state_bytes() const;  // master + moments on this rank

 private:
  class BucketHook;
  void on_gradient_ready(size_t parameter);
  void launch_ready_buckets();
  void launch_bucket(size_t bucket);
  at::Tensor bucket_gradient(size_t bucket);
  void gather_parameters();

  Transformer& model_;
  Communicator& comm_;
  ZeroOptions options_;
  ZeroLayout layout_;
  at::ScalarType reduce_dtype_;
  at::Tensor params_flat_;  // working dtype, every parameter a view of it
  at::Tensor accum_;        // summed gradients (ZeRO-1; ZeRO-2 with several micro-steps), flat
  at::ScalarType accum_dtype_;
  std::vector<at::Tensor> parameters_;  // leaf views in layout order
  at::Tensor grad_shard_;               // reduce dtype, this rank's part of the reduced gradients
  at::Tensor master_, exp_avg_, exp_avg_sq_;
  int64_t adam_steps_ = 0;
  bool reducing_ = false;
  bool accumulating_ = false;
  std::vector<int64_t> waiting_;  // per bucket: parameters whose gradient is not ready yet
  std::vector<bool> ready_;  // per parameter: gradient of this backward accumulated
  std::vector<std::pair<int64_t, int64_t>> decay_segments_;  // (shard offset, length) with weight decay
  size_t next_bucket_ = 0;
  struct InFlight {
    std::unique_ptr<PendingExchange> exchange;
    at::Tensor send, recv;  // kept alive until the exchange finishes
    at::Tensor target;      // where recv goes when it differs from it
  };
  std::vector<InFlight> in_flight_;
  std::shared_ptr<void> accumulators_;  // the parameters' gradient accumulators carrying the hooks
};

// Memory of ZeRO training per rank in bytes, activations aside (docs/TRAIN.md uses the same
// formula): working parameters; gradients (a full fp32 sum for ZeRO-1 or with accumulation, two
// buckets in flight otherwise, plus the fp32 reduced shard); fp32 master + 2 moments, 1/N each.
struct ZeroMemory {
  double parameters, gradients, optimizer, total;
};
ZeroMemory zero_memory_per_rank(double parameters, int stage, int world_size, double working_bytes,
                                double bucket_elements, bool accumulation);

}  // namespace grlm
