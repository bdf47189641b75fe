#include "grlm/train/zero.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <utility>

#include <c10/core/GradMode.h>
#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/function_hook.h>
#include <torch/csrc/autograd/variable.h>

#include "grlm/core/error.hpp"

namespace grlm {
DType comm_dtype(at::ScalarType type) {
  switch (type) {
    case at::kFloat: return DType::Float32;
    case at::kDouble: return DType::Float64;
    case at::kBFloat16: return DType::BFloat16;
    case at::kHalf: return DType::Float16;
    default: throw Error(cat("ZeRO: no communication type for ", at::toString(type)));
  }
}

namespace {

bool decays(const std::string& name) {
  const bool is_bias = name.size() >= 5 && name.compare(name.size() - 5, 5, ".bias") == 0;
  return !is_bias && name.find("norm") == std::string::npos;
}

void* pointer(const at::Tensor& tensor) { return tensor.data_ptr(); }

}  // namespace

// ---------------------------------------------------------------- layout

ZeroLayout ZeroLayout::build(const std::vector<std::pair<std::string, int64_t>>& names_and_sizes, int world_size,
                             int64_t bucket_elements) {
  if (world_size < 1) throw Error("ZeRO: world size must be >= 1");
  ZeroLayout layout;
  layout.world_size = world_size;
  for (const auto& [name, numel] : names_and_sizes) layout.parameters.push_back({name, numel, 0, 0, decays(name)});
  // Backward produces the last parameters' gradients first, so buckets are filled from the end.
  Bucket current;
  int64_t filled = 0;
  const auto close = [&] {
    if (current.parameters.empty()) return;
    const int64_t padded = (filled + world_size - 1) / world_size * world_size;
    current.flat_offset = layout.flat_numel;
    current.numel = padded;
    current.shard_numel = padded / world_size;
    current.shard_offset = layout.shard_numel;
    int64_t offset = current.flat_offset;
    for (size_t index : current.parameters) {
      layout.parameters[index].flat_offset = offset;
      layout.parameters[index].bucket = layout.buckets.size();
      offset += layout.parameters[index].numel;
    }
    layout.flat_numel += padded;
    layout.shard_numel += current.shard_numel;
    layout.buckets.push_back(std::move(current));
    current = Bucket{};
    filled = 0;
  };
  for (size_t index = layout.parameters.size(); index-- > 0;) {
    current.parameters.push_back(index);
    filled += layout.parameters[index].numel;
    if (filled >= bucket_elements) close();
  }
  close();
  return layout;
}

int64_t ZeroLayout::unpadded_numel() const {
  int64_t total = 0;
  for (const Parameter& parameter : parameters) total += parameter.numel;
  return total;
}

std::vector<ZeroLayout::Run> ZeroLayout::shard_runs(int rank) const {
  std::vector<int64_t> model_offsets(parameters.size());
  int64_t running = 0;
  for (size_t index = 0; index < parameters.size(); ++index) {
    model_offsets[index] = running;
    running += parameters[index].numel;
  }
  std::vector<Run> runs;
  for (const Bucket& bucket : buckets) {
    const int64_t begin = bucket.flat_offset + bucket.shard_numel * rank;
    const int64_t end = begin + bucket.shard_numel;
    for (size_t index : bucket.parameters) {
      const Parameter& parameter = parameters[index];
      const int64_t from = std::max(begin, parameter.flat_offset);
      const int64_t to = std::min(end, parameter.flat_offset + parameter.numel);
      if (from >= to) continue;
      runs.push_back({bucket.shard_offset + (from - begin), model_offsets[index] + (from - parameter.flat_offset), to - from,
                      index});
    }
  }
  return runs;
}

// ---------------------------------------------------------------- optimizer

// Runs after a parameter's gradient accumulator has added this backward's gradient.
class ZeroOptimizer::BucketHook final : public torch::autograd::FunctionPostHook {
 public:
  BucketHook(ZeroOptimizer* optimizer, size_t parameter) : optimizer_(optimizer), parameter_(parameter) {}
  torch::autograd::variable_list operator()(const torch::autograd::variable_list& outputs,
                                            const torch::autograd::variable_list& inputs) override {
    optimizer_->on_gradient_ready(parameter_);
    return outputs;
  }

 private:
  ZeroOptimizer* optimizer_;
  size_t parameter_;
};

// The accumulator's handle type changed (shared_ptr up to libtorch 2.11, intrusive_ptr later).
using Accumulators = std::vector<decltype(torch::autograd::impl::grad_accumulator(std::declval<const at::Tensor&>()))>;

ZeroOptimizer::ZeroOptimizer(Transformer& model, Communicator& comm, const ZeroOptions& options)
    : model_(model), comm_(comm), options_(options) {
  // The config's train.zero_stage is checked by the schema; this guards the library's other callers.
  if (options.stage != 1 && options.stage != 2) throw Error(cat("ZeRO stage must be 1 or 2, not ", options.stage));
  const auto storage = model.storage_tensors();
  std::vector<std::pair<std::string, int64_t>> sizes;
  for (const auto& [name, tensor] : storage) sizes.emplace_back(name, tensor.numel());
  layout_ = ZeroLayout::build(sizes, comm.size(), std::max<int64_t>(1, options.bucket_elements));

  const at::ScalarType working = model.dtype();
  const bool half = working == at::kBFloat16 || working == at::kHalf;
  reduce_dtype_ = half && comm.backend() == "mpi" ? at::kFloat : working;  // MPI has no 16-bit float sums
  const at::ScalarType master_type = working == at::kDouble ? at::kDouble : at::kFloat;
  const auto on_device = at::TensorOptions().device(model.device());

  c10::NoGradGuard no_grad;
  params_flat_ = at::zeros({layout_.flat_numel}, on_device.dtype(working));
  std::map<std::string, const ZeroLayout::Parameter*> by_name;
  for (const auto& parameter : layout_.parameters) by_name[parameter.name] = &parameter;
  model.relocate_storage([&](const std::string& name, const at::Tensor& current) {
    const ZeroLayout::Parameter& parameter = *by_name.at(name);
    at::Tensor view = params_flat_.narrow(0, parameter.flat_offset, parameter.numel).view(current.sizes());
    view.copy_(current);
    return view;
  });
  for (const auto& [name, tensor] : model.storage_tensors()) parameters_.push_back(tensor);
  // Gradients add up over micro-steps in fp32 when the working dtype has 16 bits.
  accum_dtype_ = half ? at::kFloat : working;
  if (options.stage == 1) accum_ = at::zeros({layout_.flat_numel}, on_device.dtype(accum_dtype_));
  // The accumulators are only weakly held by their tensors: keeping them keeps the hooks.
  auto accumulators = std::make_shared<Accumulators>();
  accumulators_ = accumulators;
  for (size_t index = 0; index < parameters_.size(); ++index) {
    at::Tensor& parameter = parameters_[index];
    parameter.requires_grad_(true);
    auto accumulator = torch::autograd::impl::grad_accumulator(parameter);
    accumulator->add_post_hook(std::make_unique<BucketHook>(this, index));
    accumulators->push_back(std::move(accumulator));
  }

  grad_shard_ = at::zeros({layout_.shard_numel}, on_device.dtype(reduce_dtype_));
  master_ = at::empty({layout_.shard_numel}, on_device.dtype(master_type));
  const int64_t rank = comm.rank();
  for (const auto& bucket : layout_.buckets) {
    master_.narrow(0, bucket.shard_offset, bucket.shard_numel)
        .copy_(params_flat_.narrow(0, bucket.flat_offset + rank * bucket.shard_numel, bucket.shard_numel));
  }
  exp_avg_ = at::zeros_like(master_);
  exp_avg_sq_ = at::zeros_like(master_);
  for (const auto& run : layout_.shard_runs(comm.rank())) {
    if (layout_.parameters[run.parameter].decay) decay_segments_.emplace_back(run.shard_offset, run.length);
  }
  waiting_.assign(layout_.buckets.size(), 0);
}

ZeroOptimizer::~ZeroOptimizer() {
  for (auto& flight : in_flight_) {
    try {
      flight.exchange->wait();
    } catch (...) {
    }
  }
}

void ZeroOptimizer::begin_micro_step(int64_t index, int64_t count) {
  if (index < 0 || index >= count) throw Error(cat("ZeRO: micro-step ", index, " of ", count));
  reducing_ = index + 1 == count;
  // ZeRO-1 always sums into the flat buffer; ZeRO-2 only when a step has several micro-steps
  // (one micro-step: gradients go bucket by bucket straight to the reduce-scatter).
  accumulating_ = options_.stage == 1 || count > 1;
  if (accumulating_ && !accum_.defined()) {
    accum_ = at::zeros({layout_.flat_numel}, params_flat_.options().dtype(accum_dtype_));
  }
  if (!reducing_) return;
  for (size_t bucket = 0; bucket < layout_.buckets.size(); ++bucket) {
    waiting_[bucket] = static_cast<int64_t>(layout_.buckets[bucket].parameters.size());
  }
  ready_.assign(parameters_.size(), false);
  next_bucket_ = 0;
}

void ZeroOptimizer::on_gradient_ready(size_t parameter) {
  if (accumulating_) {
    // This micro-step's gradient joins the sum and is freed.
    at::Tensor& grad = parameters_[parameter].mutable_grad();
    if (grad.defined()) {
      c10::NoGradGuard no_grad;
      const auto& place = layout_.parameters[parameter];
      accum_.narrow(0, place.flat_offset, place.numel).add_(grad.reshape(-1));
      grad.reset();
    }
  }
  if (!reducing_ || ready_[parameter]) return;
  ready_[parameter] = true;
  const size_t bucket = layout_.parameters[parameter].bucket;
  if (--waiting_[bucket] == 0) launch_ready_buckets();
  for (auto& flight : in_flight_) flight.exchange->progress();
}

// Buckets start strictly in order, so every rank issues the same collectives in the same order
// whatever order its backward pass finished them in.
void ZeroOptimizer::launch_ready_buckets() {
  while (next_bucket_ < layout_.buckets.size() && waiting_[next_bucket_] == 0) launch_bucket(next_bucket_++);
}

at::Tensor ZeroOptimizer::bucket_gradient(size_t index) {
  const ZeroLayout::Bucket& bucket = layout_.buckets[index];
  if (accumulating_) {
    const at::Tensor slice = accum_.narrow(0, bucket.flat_offset, bucket.numel);
    return slice.scalar_type() == reduce_dtype_ ? slice : slice.to(reduce_dtype_);
  }
  // ZeRO-2, one micro-step: the gradients are copied into one buffer and freed at once.
  at::Tensor staging = at::zeros({bucket.numel}, grad_shard_.options());
  for (size_t parameter : bucket.parameters) {
    at::Tensor& grad = parameters_[parameter].mutable_grad();
    if (!grad.defined()) continue;
    staging.narrow(0, layout_.parameters[parameter].flat_offset - bucket.flat_offset, grad.numel()).copy_(grad.reshape(-1));
    grad.reset();
  }
  return staging;
}

void ZeroOptimizer::launch_bucket(size_t index) {
  const ZeroLayout::Bucket& bucket = layout_.buckets[index];
  c10::NoGradGuard no_grad;
  InFlight flight;
  flight.send = bucket_gradient(index);
  flight.recv = grad_shard_.narrow(0, bucket.shard_offset, bucket.shard_numel);
  flight.exchange = comm_.start_reduce_scatter(pointer(flight.send), pointer(flight.recv),
                                               static_cast<size_t>(bucket.shard_numel), comm_dtype(reduce_dtype_),
                                               ReduceOp::Sum);
  in_flight_.push_back(std::move(flight));
  // Two buckets in flight overlap communication with the rest of backward; more only costs memory.
  while (in_flight_.size() > 2) {
    in_flight_.front().exchange->wait();
    in_flight_.erase(in_flight_.begin());
  }
}

void ZeroOptimizer::finish_gradients() {
  if (!reducing_) throw Error("ZeRO: finish_gradients without a last micro-step");
  std::fill(waiting_.begin(), waiting_.end(), 0);  // a parameter without gradient contributes zeros
  launch_ready_buckets();
  for (auto& flight : in_flight_) flight.exchange->wait();
  in_flight_.clear();
  reducing_ = false;
}

StepOutcome ZeroOptimizer::step(double lr, double max_grad_norm) {
  c10::NoGradGuard no_grad;
  StepOutcome outcome;
  const at::Tensor grad = grad_shard_.scalar_type() == master_.scalar_type() ? grad_shard_ : grad_shard_.to(master_.scalar_type());
  at::Tensor totals = at::stack({grad.to(at::kDouble).pow(2).sum(), grad.isfinite().logical_not().sum().to(at::kDouble)});
  comm_.all_reduce(pointer(totals), pointer(totals), 2, DType::Float64, ReduceOp::Sum);
  const at::Tensor host = totals.cpu();
  outcome.grad_norm = std::sqrt(host[0].item<double>());
  const bool finite = host[1].item<double>() == 0 && std::isfinite(outcome.grad_norm);
  if (accumulating_) accum_.zero_();
  if (!finite) {
    outcome.grad_norm = std::nan("");
    return outcome;
  }
  // As torch.nn.utils.clip_grad_norm_: scale by max_norm / (norm + 1e-6) when that is below 1.
  if (max_grad_norm > 0) {
    const double coefficient = max_grad_norm / (outcome.grad_norm + 1e-6);
    if (coefficient < 1.0) grad.mul_(coefficient);
  }
  // AdamW in torch.optim.AdamW's order of operations (decoupled weight decay first).
  ++adam_steps_;
  if (options_.weight_decay != 0) {
    for (const auto& segment : decay_segments_) master_.narrow(0, segment.first, segment.second).mul_(1 - lr * options_.weight_decay);
  }
  exp_avg_.lerp_(grad, 1 - options_.beta1);
  exp_avg_sq_.mul_(options_.beta2).addcmul_(grad, grad, 1 - options_.beta2);
  const double bias_correction1 = 1 - std::pow(options_.beta1, static_cast<double>(adam_steps_));
  const double bias_correction2 = 1 - std::pow(options_.beta2, static_cast<double>(adam_steps_));
  const at::Tensor denominator = (exp_avg_sq_.sqrt() / std::sqrt(bias_correction2)).add_(options_.epsilon);
  master_.addcdiv_(exp_avg_, denominator, -lr / bias_correction1);
  gather_parameters();
  outcome.applied = true;
  return outcome;
}

void ZeroOptimizer::gather_parameters() {
  c10::NoGradGuard no_grad;
  const int64_t rank = comm_.rank();
  const DType type = comm_dtype(params_flat_.scalar_type());
  for (const auto& bucket : layout_.buckets) {
    at::Tensor mine = params_flat_.narrow(0, bucket.flat_offset + rank * bucket.shard_numel, bucket.shard_numel);
    mine.copy_(master_.narrow(0, bucket.shard_offset, bucket.shard_numel));
    comm_.all_gather(pointer(mine), pointer(params_flat_.narrow(0, bucket.flat_offset, bucket.numel)),
                     static_cast<size_t>(bucket.shard_numel), type);
  }
}

void ZeroOptimizer::load_parameters_from_master() { gather_parameters(); }

int64_t ZeroOptimizer::state_bytes() const {
  return (master_.numel() + exp_avg_.numel() + exp_avg_sq_.numel()) * static_cast<int64_t>(master_.element_size());
}

ZeroMemory zero_memory_per_rank(double parameters, int stage, int world_size, double working_bytes,
                                double bucket_elements, bool accumulation) {
  ZeroMemory memory{};
  const double shard = parameters / world_size;
  const double sum_bytes = working_bytes < 4 ? 4 : working_bytes;  // 16-bit gradients are summed in fp32
  memory.parameters = parameters * working_bytes;
  const bool full_sum = stage == 1 || accumulation;
  memory.gradients = (full_sum ? parameters * sum_bytes : std::min(parameters, 2 * bucket_elements) * working_bytes) + shard * 4;
  memory.optimizer = shard * 12;  // fp32 master, first and second moment
  memory.total = memory.parameters + memory.gradients + memory.optimizer;
  return memory;
}

}  // namespace grlm
