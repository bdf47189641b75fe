#include "grlm/train/trainer.hpp"

#include <sys/resource.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <sstream>

#include <c10/core/GradMode.h>
#ifdef GRLM_HAVE_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAStream.h>
#endif

#include "grlm/core/error.hpp"
#include "grlm/core/hash.hpp"
#include "grlm/core/log.hpp"
#include "grlm/data/text_file.hpp"
#include "grlm/model/checkpoint.hpp"
#include "grlm/text/sft_prompt.hpp"
#include "grlm/text/tokenizer.hpp"
#include "grlm/train/plan.hpp"
#include "grlm/train/zero.hpp"
#include "grlm/model/dtype.hpp"

namespace grlm {

namespace fs = std::filesystem;
using Json = nlohmann::json;

TrainOptions TrainOptions::from_config(const Config& config) {
  TrainOptions options;
  options.model = config.get_optional_string("train.model");
  options.hidden_size = config.get_int("train.arch.hidden_size");
  options.layers = config.get_int("train.arch.layers");
  options.heads = config.get_int("train.arch.heads");
  options.kv_heads = config.get_int("train.arch.kv_heads");
  options.intermediate_size = config.get_int("train.arch.intermediate_size");
  options.head_dim = config.get_int("train.arch.head_dim");
  options.zero_stage = static_cast<int>(config.get_int("train.zero_stage"));
  options.global_batch_size = config.get_int("train.global_batch_size");
  options.micro_batch_size = config.get_int("train.micro_batch_size");
  options.epochs = config.get_number("train.epochs");
  options.max_steps = config.get_int("train.max_steps");
  options.lr = config.get_number("train.lr");
  options.warmup_ratio = config.get_number("train.warmup_ratio");
  options.weight_decay = config.get_number("train.weight_decay");
  options.adam_beta1 = config.get_number("train.adam_beta1");
  options.adam_beta2 = config.get_number("train.adam_beta2");
  options.adam_epsilon = config.get_number("train.adam_epsilon");
  options.max_grad_norm = config.get_number("train.max_grad_norm");
  options.seed = config.get_int("train.seed");
  options.dtype = config.get_string("train.dtype");
  options.activation_checkpointing = config.get_bool("train.activation_checkpointing");
  options.bucket_mb = config.get_number("train.bucket_mb");
  options.save_steps = config.get_int("train.save_steps");
  options.log_steps = config.get_int("train.log_steps");
  options.eval_steps = config.get_int("train.eval_steps");
  options.stop_after_steps = config.get_int("train.stop_after_steps");
  options.max_bad_steps = config.get_int("train.max_bad_steps");
  options.val_fraction = config.get_number("train.val_fraction");
  options.peak_tflops = config.get_number("train.peak_tflops");
  options.export_model = config.get_bool("train.export");
  options.export_steps = config.get_int("train.export_steps");
  // Ranges are the schema's (checked when the config loads), the rules between keys
  // check_train_config's (checked before any stage runs).
  return options;
}

namespace {

constexpr const char* kGroup = "/train";

DtypeChoice training_dtype(const TrainOptions& options, const Device& device) {
  const DtypeChoice choice = choose_dtype(options.dtype, device);
  if (choice.dtype == at::kHalf) throw UsageError("train.dtype float16 is not supported (use bfloat16)");
  return choice;
}

// The tokenizer build-sft rendered the samples with (and the folder its files are in).
fs::path sft_tokenizer_file(RunStore& store, const TrainerPaths& paths) {
  return fs::path(store.get_attribute(paths.sft_group, paths.tokenizer_attribute));
}

Transformer build_model(const TrainOptions& options, RunStore& store, const TrainerPaths& paths, at::ScalarType dtype, at::Device device,
                        int64_t max_sample_tokens) {
  if (options.model) {
    LoadOptions load;
    load.device = device;
    load.dtype = dtype;
    return load_pretrained(*options.model, load);
  }
  const fs::path tokenizer_file = sft_tokenizer_file(store, paths);
  const Tokenizer tokenizer = Tokenizer::load(tokenizer_file);
  Json config = {{"model_type", "qwen3"},
                 {"architectures", Json::array({"Qwen3ForCausalLM"})},
                 {"vocab_size", tokenizer.vocab_size()},
                 {"hidden_size", options.hidden_size},
                 {"intermediate_size", options.intermediate_size},
                 {"num_hidden_layers", options.layers},
                 {"num_attention_heads", options.heads},
                 {"num_key_value_heads", options.kv_heads},
                 {"head_dim", options.head_dim},
                 {"max_position_embeddings", std::max<int64_t>(2048, max_sample_tokens + 64)},
                 {"rms_norm_eps", 1e-6},
                 {"rope_theta", 10000.0},
                 {"tie_word_embeddings", true},
                 {"hidden_act", "silu"},
                 {"attention_bias", false},
                 {"attention_dropout", 0.0},
                 {"initializer_range", 0.02},
                 {"use_cache", true},
                 {"torch_dtype", dtype_name(dtype)}};
  // Generation ends where a trained answer ends: the chat format's end of turn, as build-sft
  // rendered the samples (the tokenizer folder's chat template, or plain ChatML).
  const fs::path tokenizer_folder = fs::is_directory(tokenizer_file) ? tokenizer_file : tokenizer_file.parent_path();
  if (const auto eos = tokenizer.token_to_id(SftPrompt::for_tokenizer_folder(tokenizer_folder).end_of_turn())) {
    config["eos_token_id"] = *eos;
  }
  if (const auto pad = tokenizer.token_to_id("<pad>")) config["pad_token_id"] = *pad;
  const ModelConfig model_config = ModelConfig::from_json(config, tokenizer_file.string() + " (from-scratch model)");
  return init_from_config(model_config, static_cast<uint64_t>(options.seed), dtype, device);
}

// Parameter names and sizes, hashed: a checkpoint only loads into the same model.
std::string layout_digest(const ZeroLayout& layout) {
  std::string text;
  for (const auto& parameter : layout.parameters) text += cat(parameter.name, ":", parameter.numel, ";");
  return hash_bytes(text);
}

struct CurvePoint {
  int64_t step = 0;
  double epoch = 0, loss = 0, lr = 0, grad_norm = 0, tokens_per_s = 0, mfu = 0, seconds = 0;
  std::optional<double> val_loss;
  bool skipped = false;
};

Json curve_json(const std::vector<CurvePoint>& curve) {
  Json rows = Json::array();
  for (const CurvePoint& point : curve) {
    Json row = {{"step", point.step},     {"epoch", point.epoch},         {"loss", point.loss},
                {"lr", point.lr},         {"grad_norm", point.grad_norm}, {"tokens_per_s", point.tokens_per_s},
                {"mfu", point.mfu},       {"seconds", point.seconds},     {"skipped", point.skipped}};
    row["val_loss"] = point.val_loss ? Json(*point.val_loss) : Json();
    rows.push_back(row);
  }
  return rows;
}

std::vector<CurvePoint> curve_from_json(const Json& rows) {
  std::vector<CurvePoint> curve;
  for (const Json& row : rows) {
    CurvePoint point;
    point.step = row.at("step");
    point.epoch = row.at("epoch");
    point.loss = row.at("loss").is_number() ? row.at("loss").get<double>() : std::nan("");
    point.lr = row.at("lr");
    point.grad_norm = row.at("grad_norm").is_number() ? row.at("grad_norm").get<double>() : std::nan("");
    point.tokens_per_s = row.at("tokens_per_s");
    point.mfu = row.at("mfu");
    point.seconds = row.at("seconds");
    point.skipped = row.at("skipped");
    if (row.at("val_loss").is_number()) point.val_loss = row.at("val_loss").get<double>();
    curve.push_back(point);
  }
  return curve;
}

void write_curve_files(const fs::path& folder, const std::vector<CurvePoint>& curve) {
  fs::create_directories(folder);
  write_file_atomically(folder / "curve.json", curve_json(curve).dump(1) + "\n");
  std::ostringstream csv;
  csv << "step,epoch,loss,lr,grad_norm,tokens_per_s,mfu,seconds,val_loss,skipped\n";
  csv.precision(9);
  for (const CurvePoint& point : curve) {
    csv << point.step << ',' << point.epoch << ',' << point.loss << ',' << point.lr << ',' << point.grad_norm << ','
        << point.tokens_per_s << ',' << point.mfu << ',' << point.seconds << ','
        << (point.val_loss ? cat(*point.val_loss) : std::string()) << ',' << (point.skipped ? 1 : 0) << '\n';
  }
  write_file_atomically(folder / "curve.csv", csv.str());
}

// ---------------------------------------------------------------- checkpoints in the run store
// Two slots, so a crash while writing one leaves the other (the last good checkpoint) intact;
// /train/latest = (slot, step) is written only after the slot is durable.

struct TrainState {
  int64_t step = 0;  // optimizer steps done
  int64_t adam_steps = 0;
  int64_t bad_in_row = 0;
  std::vector<CurvePoint> curve;
};

// Collective: rank 0 writes the (replicated) weights as a Hugging Face folder, through a
// .partial folder renamed when whole.
void export_model(Runtime& runtime, Communicator& comm, const Transformer& model, at::ScalarType dtype,
                  const fs::path& folder, const fs::path& tokenizer_folder) {
  if (runtime.is_root()) {
    const fs::path partial = folder.string() + ".partial";
    fs::remove_all(partial);
    save_pretrained(model, partial, dtype, tokenizer_folder);
    fs::remove_all(folder);
    fs::rename(partial, folder);
  }
  comm.barrier();
  runtime.world().barrier();
}

void save_checkpoint(RunStore& store, ZeroOptimizer& zero, const TrainState& state, int64_t bucket_elements) {
  const std::string latest = cat(kGroup, "/latest");
  // Each checkpoint goes into a new group, one after the latest; the latest is removed only once
  // the new one is whole and `latest` points to it. A save cut short (a full disk, a kill) can
  // leave a damaged group behind that HDF5 cannot even remove: it is skipped, never written into.
  const int64_t previous = store.exists(latest) ? store.read_all<int64_t>(latest)[0] : -1;
  int64_t slot = previous + 1;
  for (;; ++slot) {
    try {
      store.remove_if_exists(cat(kGroup, "/checkpoint_", slot));
      break;
    } catch (const Error& error) {
      log::warn("train: skipping the damaged leftover ", kGroup, "/checkpoint_", slot, " of an interrupted save (", error.what(), ")");
    }
  }
  const std::string group = cat(kGroup, "/checkpoint_", slot);
  const int world = store.world_size();
  const auto shard = static_cast<uint64_t>(zero.layout().shard_numel);
  const std::pair<const char*, at::Tensor*> tensors[] = {
      {"master", &zero.master()}, {"exp_avg", &zero.exp_avg()}, {"exp_avg_sq", &zero.exp_avg_sq()}};
  for (const auto& [name, tensor] : tensors) {
    const std::string path = cat(group, "/", name);
    store.create_dataset(path, {static_cast<uint64_t>(world), shard}, comm_dtype(tensor->scalar_type()));
    const at::Tensor host = tensor->to(at::kCPU).contiguous();
    store.write_rows(path, static_cast<uint64_t>(store.rank()), 1, host.data_ptr(), comm_dtype(host.scalar_type()));
  }
  const Json meta = {{"step", state.step},
                     {"adam_steps", state.adam_steps},
                     {"bad_in_row", state.bad_in_row},
                     {"world_size", world},
                     {"bucket_elements", bucket_elements},
                     {"layout", layout_digest(zero.layout())},
                     {"dtype", dtype_name(zero.master_dtype())}};
  store.write_strings(group + "/state", store.rank() == 0 ? std::vector<std::string>{meta.dump()} : std::vector<std::string>{});
  store.write_strings(group + "/curve",
                      store.rank() == 0 ? std::vector<std::string>{curve_json(state.curve).dump()} : std::vector<std::string>{});
  store.flush();
  if (!store.exists(latest)) store.create_dataset(latest, {2}, DType::Int64);
  const int64_t pointer[2] = {slot, state.step};
  store.write_rows(latest, 0, store.rank() == 0 ? 2 : 0, pointer, DType::Int64);
  store.flush();
  if (previous >= 0) {
    try {
      store.remove_if_exists(cat(kGroup, "/checkpoint_", previous));
    } catch (const Error& error) {  // superseded: its space is all it still holds
      log::warn("train: could not remove the superseded ", kGroup, "/checkpoint_", previous, " (", error.what(), ")");
    }
  }
}

// Loads the latest checkpoint into `zero` (re-sharding it when it was written by another number of
// ranks or another bucket size); false when there is none.
bool load_checkpoint(RunStore& store, ZeroOptimizer& zero, TrainState& state, int64_t bucket_elements) {
  const std::string latest = cat(kGroup, "/latest");
  if (!store.exists(latest)) return false;
  const std::vector<int64_t> pointer = store.read_all<int64_t>(latest);
  const std::string group = cat(kGroup, "/checkpoint_", pointer[0]);
  const Json meta = Json::parse(store.read_strings(group + "/state").at(0));
  if (meta.at("layout") != layout_digest(zero.layout()) || meta.at("dtype") != dtype_name(zero.master_dtype())) {
    throw InputError(cat(store.file_path().string(), ": the training checkpoint in ", group,
                         " belongs to another model or dtype (delete the train stage to start over)"));
  }
  const int old_world = meta.at("world_size");
  const int64_t old_bucket = meta.at("bucket_elements");
  const ZeroLayout& layout = zero.layout();
  const at::ScalarType type = zero.master_dtype();
  std::vector<std::pair<std::string, int64_t>> sizes;
  for (const auto& parameter : layout.parameters) sizes.emplace_back(parameter.name, parameter.numel);
  const ZeroLayout old_layout = ZeroLayout::build(sizes, old_world, old_bucket);
  const bool identical = old_world == layout.world_size && old_bucket == bucket_elements;
  const std::pair<const char*, at::Tensor*> tensors[] = {
      {"master", &zero.master()}, {"exp_avg", &zero.exp_avg()}, {"exp_avg_sq", &zero.exp_avg_sq()}};
  for (const auto& [name, tensor] : tensors) {
    const std::string path = cat(group, "/", name);
    at::Tensor shard = at::zeros({layout.shard_numel}, at::TensorOptions().dtype(type));
    if (identical) {
      store.read_rows(path, static_cast<uint64_t>(store.rank()), 1, shard.data_ptr(), comm_dtype(type));
    } else {
      // Re-shard: rebuild the whole vector in model order from every old rank's row.
      at::Tensor full = at::zeros({layout.unpadded_numel()}, at::TensorOptions().dtype(type));
      at::Tensor row = at::empty({old_layout.shard_numel}, at::TensorOptions().dtype(type));
      for (int old_rank = 0; old_rank < old_world; ++old_rank) {
        store.read_rows(path, static_cast<uint64_t>(old_rank), 1, row.data_ptr(), comm_dtype(type));
        for (const auto& run : old_layout.shard_runs(old_rank)) {
          full.narrow(0, run.model_offset, run.length).copy_(row.narrow(0, run.shard_offset, run.length));
        }
      }
      for (const auto& run : layout.shard_runs(store.rank())) {
        shard.narrow(0, run.shard_offset, run.length).copy_(full.narrow(0, run.model_offset, run.length));
      }
    }
    tensor->copy_(shard);
  }
  state.step = meta.at("step");
  state.adam_steps = meta.at("adam_steps");
  state.bad_in_row = meta.at("bad_in_row");
  state.curve = curve_from_json(Json::parse(store.read_strings(group + "/curve").at(0)));
  zero.set_adam_steps(state.adam_steps);
  zero.load_parameters_from_master();
  if (!identical) {
    log::info("train: checkpoint of ", old_world, " ranks re-sharded for ", store.world_size());
  }
  return true;
}

// ---------------------------------------------------------------- forward and loss

struct MicroBatch {
  at::Tensor input_ids;      // [B, T] right-padded (causal attention never looks right of a token)
  at::Tensor loss_rows;      // flat indices b * T + t of positions whose next token is a response token
  at::Tensor targets;        // the tokens they predict
  int64_t tokens = 0;        // real tokens
};

MicroBatch make_micro_batch(const SftTokens& data, const std::vector<int64_t>& samples, at::Device device) {
  int64_t longest = 0;
  for (int64_t sample : samples) longest = std::max(longest, data.length(static_cast<size_t>(sample)));
  const auto batch = static_cast<int64_t>(samples.size());
  at::Tensor ids = at::zeros({batch, longest}, at::kLong);
  auto* id_data = ids.data_ptr<int64_t>();
  std::vector<int64_t> rows, targets;
  MicroBatch micro;
  for (int64_t b = 0; b < batch; ++b) {
    const auto sample = static_cast<size_t>(samples[static_cast<size_t>(b)]);
    const int64_t offset = data.offsets[sample];
    const int64_t length = data.length(sample);
    micro.tokens += length;
    for (int64_t t = 0; t < length; ++t) {
      id_data[b * longest + t] = data.token_ids[static_cast<size_t>(offset + t)];
      if (t + 1 < length && data.loss_mask[static_cast<size_t>(offset + t + 1)]) {
        rows.push_back(b * longest + t);
        targets.push_back(data.token_ids[static_cast<size_t>(offset + t + 1)]);
      }
    }
  }
  micro.input_ids = ids.to(device);
  micro.loss_rows = at::tensor(rows, at::kLong).to(device);
  micro.targets = at::tensor(targets, at::kLong).to(device);
  return micro;
}

// Sum of the cross-entropy of the response tokens; the LM head runs only on their positions.
at::Tensor loss_sum(const Transformer& model, const MicroBatch& micro) {
  const at::Tensor hidden = model.hidden_states({micro.input_ids, {}, {}, nullptr});
  if (micro.loss_rows.numel() == 0) return hidden.sum() * 0;
  const at::Tensor selected = hidden.reshape({-1, hidden.size(-1)}).index_select(0, micro.loss_rows);
  at::Tensor logits = model.logits(selected);
  logits = logits.to(model.dtype() == at::kDouble ? at::kDouble : at::kFloat);
  return at::cross_entropy_loss(logits, micro.targets, {}, at::Reduction::Sum);
}

double validation_loss(const Transformer& model, const SftTokens& data, const std::vector<int64_t>& validation,
                       int64_t micro_batch, Communicator& comm, at::Device device) {
  c10::NoGradGuard no_grad;
  std::vector<int64_t> mine;
  for (size_t i = static_cast<size_t>(comm.rank()); i < validation.size(); i += static_cast<size_t>(comm.size())) {
    mine.push_back(validation[i]);
  }
  double totals[2] = {0, 0};
  for (size_t first = 0; first < mine.size(); first += static_cast<size_t>(micro_batch)) {
    const std::vector<int64_t> samples(mine.begin() + static_cast<int64_t>(first),
                                       mine.begin() + static_cast<int64_t>(std::min(mine.size(), first + static_cast<size_t>(micro_batch))));
    const MicroBatch micro = make_micro_batch(data, samples, device);
    totals[0] += loss_sum(model, micro).item<double>();
    totals[1] += static_cast<double>(micro.targets.numel());
  }
  at::Tensor both = at::tensor(std::vector<double>{totals[0], totals[1]}, at::kDouble).to(device);
  comm.all_reduce(both.data_ptr(), both.data_ptr(), 2, DType::Float64, ReduceOp::Sum);
  const at::Tensor host = both.cpu();
  return host[0].item<double>() / std::max(1.0, host[1].item<double>());
}

double peak_memory_bytes(at::Device device) {
#ifdef GRLM_HAVE_CUDA
  if (device.is_cuda()) {
    const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(device.index());
    return static_cast<double>(stats.allocated_bytes[0].peak);
  }
#endif
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) * 1024.0;  // resident set, kilobytes on Linux
}

double default_peak_tflops(const Device& device, at::ScalarType dtype) {
  if (!device.is_cuda()) return 0;
  const std::string& name = device.description;
  const bool half = dtype == at::kBFloat16;
  if (name.find("H100") != std::string::npos || name.find("H200") != std::string::npos) return half ? 989.4 : 494.7;
  if (name.find("A100") != std::string::npos) return half ? 312.0 : 156.0;
  return 0;
}

FlopModel flop_model(const Transformer& model) {
  const ModelConfig& config = model.config();
  FlopModel flops;
  double body = 0;
  for (const auto& [name, tensor] : model.storage_tensors()) {
    if (name != "model.embed_tokens.weight" && name != "lm_head.weight") body += static_cast<double>(tensor.numel());
  }
  flops.body_parameters = body;
  flops.vocab = static_cast<double>(config.vocab_size);
  flops.hidden = static_cast<double>(config.hidden_size);
  flops.layers = static_cast<double>(config.num_hidden_layers);
  flops.query_width = static_cast<double>(config.num_attention_heads * config.head_dim);
  return flops;
}

std::string format_gib(double bytes) { return cat(std::round(bytes / (1 << 20)) / 1024.0, " GiB"); }

}  // namespace

Json run_training(RunContext& context, const StageRun& run, const TrainOptions& options, const TrainerPaths& paths) {
  RunStore& store = context.store;
  Runtime& runtime = context.runtime;
  const at::Device device = context.device.is_cuda() ? at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(context.device.index))
                                                     : at::Device(at::kCPU);
  const DtypeChoice dtype_choice = training_dtype(options, context.device);
  const at::ScalarType dtype = dtype_choice.dtype;

  const SftTokens data = read_sft_tokens(store, paths.sft_group);
  const SampleSplit split = split_samples(data, options.val_fraction, static_cast<uint64_t>(options.seed));
  std::vector<int64_t> lengths(data.samples());
  int64_t longest = 0;
  int32_t highest_token = 0;
  for (size_t sample = 0; sample < data.samples(); ++sample) {
    lengths[sample] = data.length(sample);
    longest = std::max(longest, lengths[sample]);
  }
  for (int32_t token : data.token_ids) highest_token = std::max(highest_token, token);

  Communicator* comm = &runtime.world();
  std::unique_ptr<Communicator> nccl;
#ifdef GRLM_HAVE_CUDA
  if (device.is_cuda()) {
    nccl = make_nccl_communicator(runtime.world(), c10::cuda::getCurrentCUDAStream(device.index()).stream());
    comm = nccl.get();
  }
#endif
  const BatchPlan plan(split.train, lengths, options.global_batch_size, comm->size(), options.micro_batch_size,
                       static_cast<uint64_t>(options.seed));
  const int64_t total_steps =
      options.max_steps > 0 ? options.max_steps
                            : static_cast<int64_t>(std::ceil(options.epochs * static_cast<double>(plan.steps_per_epoch())));

  Transformer model = build_model(options, store, paths, dtype, device, longest);
  if (highest_token >= model.config().vocab_size) {
    throw InputError(cat("train: build-sft's samples use token id ", highest_token, " but the model's vocabulary has ",
                         model.config().vocab_size, " ids (sft.tokenizer must be the tokenizer of train.model)"));
  }
  model.set_activation_checkpointing(options.activation_checkpointing);
  ZeroOptions zero_options;
  zero_options.stage = options.zero_stage;
  zero_options.bucket_elements = std::max<int64_t>(
      1, static_cast<int64_t>(options.bucket_mb * 1024 * 1024 / static_cast<double>(c10::elementSize(dtype))));
  zero_options.beta1 = options.adam_beta1;
  zero_options.beta2 = options.adam_beta2;
  zero_options.epsilon = options.adam_epsilon;
  zero_options.weight_decay = options.weight_decay;
  ZeroOptimizer zero(model, *comm, zero_options);

  TrainState state;
  if (run.resumed && load_checkpoint(store, zero, state, zero_options.bucket_elements)) {
    log::info("train: resumed from the checkpoint of step ", state.step, " of ", total_steps);
  }
  const FlopModel flops = flop_model(model);
  const double peak_tflops = options.peak_tflops > 0 ? options.peak_tflops : default_peak_tflops(context.device, dtype);
  log::info("train: ", model.config().parameter_count(), " parameters, ", dtype_name(dtype), " (", dtype_choice.reason, ") on ",
            context.device.description,
            "; ZeRO-", options.zero_stage, " over ", comm->size(), " ranks (", comm->backend(), "), optimizer state ",
            format_gib(static_cast<double>(zero.state_bytes())), " per rank; ", split.train.size(), " training and ",
            split.validation.size(), " validation samples; ", total_steps, " steps of ", options.global_batch_size,
            " samples (", plan.micro_steps(), " micro-steps of ", options.micro_batch_size, " per rank)");

  const fs::path out_folder = paths.curve_folder;
  const fs::path tokenizer_folder = options.model ? fs::path(*options.model) : sft_tokenizer_file(store, paths).parent_path();
  int64_t steps_this_run = 0;
  double train_seconds = 0;
  while (state.step < total_steps) {
    const auto started = std::chrono::steady_clock::now();
    const int64_t step = state.step;
    const std::vector<int64_t> batch = plan.global_batch(step);
    if (runtime.is_root() && log::enabled(log::Level::Debug)) {
      std::string ids;
      for (int64_t sample : batch) ids += cat(" ", sample);
      log::debug("train: step ", step + 1, " samples", ids);
    }
    double global_loss_tokens = 0, global_tokens = 0, step_flops = 0;
    for (int64_t sample : batch) {
      const auto index = static_cast<size_t>(sample);
      const auto loss_tokens = static_cast<double>(data.loss_tokens(index));
      global_loss_tokens += loss_tokens;
      global_tokens += static_cast<double>(lengths[index]);
      step_flops += flops.sample_flops(static_cast<double>(lengths[index]), loss_tokens);
    }
    const auto micro_batches = plan.micro_batches(step, comm->rank());
    double local_loss = 0;
    for (size_t micro = 0; micro < micro_batches.size(); ++micro) {
      zero.begin_micro_step(static_cast<int64_t>(micro), static_cast<int64_t>(micro_batches.size()));
      const MicroBatch batch_tensors = make_micro_batch(data, micro_batches[micro], device);
      // Divided by the global batch's response tokens: the sum over ranks and micro-steps is the
      // mean token loss of the whole batch, whatever the world size.
      const at::Tensor loss = loss_sum(model, batch_tensors) / std::max(1.0, global_loss_tokens);
      loss.backward();
      local_loss += loss.item<double>();
    }
    zero.finish_gradients();
    const double lr = cosine_learning_rate(options.lr, step, total_steps, options.warmup_ratio);
    const StepOutcome outcome = zero.step(lr, options.max_grad_norm);
    const double loss = all_reduce_value(runtime.world(), local_loss, ReduceOp::Sum);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    train_seconds += seconds;
    ++state.step;
    ++steps_this_run;

    CurvePoint point;
    point.step = state.step;
    point.epoch = static_cast<double>(state.step) / static_cast<double>(plan.steps_per_epoch());
    point.loss = loss;
    point.lr = lr;
    point.grad_norm = outcome.grad_norm;
    point.tokens_per_s = global_tokens / seconds;
    point.mfu = peak_tflops > 0 ? step_flops / seconds / (peak_tflops * 1e12 * comm->size()) : 0;
    point.seconds = seconds;
    point.skipped = !outcome.applied || !std::isfinite(loss);
    if (point.skipped) {
      ++state.bad_in_row;
      log::warn("train: step ", state.step, " skipped: loss ", loss, ", gradient norm ", outcome.grad_norm,
                " (not finite); ", state.bad_in_row, " in a row");
      if (state.bad_in_row >= options.max_bad_steps) {
        throw Error(cat("train: ", state.bad_in_row, " steps in a row had a NaN/inf loss or gradient (train.max_bad_steps = ",
                        options.max_bad_steps, "); the last good checkpoint is kept: lower train.lr or check the data"));
      }
    } else {
      state.bad_in_row = 0;
    }
    state.adam_steps = zero.adam_steps();
    if (options.eval_steps > 0 && !split.validation.empty() &&
        (state.step % options.eval_steps == 0 || state.step == total_steps)) {
      point.val_loss = validation_loss(model, data, split.validation, options.micro_batch_size, *comm, device);
    }
    state.curve.push_back(point);
    if (runtime.is_root() && (state.step % std::max<int64_t>(1, options.log_steps) == 0 || state.step == total_steps ||
                              point.val_loss)) {
      log::info("train: step ", state.step, "/", total_steps, " epoch ", std::round(point.epoch * 100) / 100, " loss ", loss,
                point.val_loss ? cat(" val_loss ", *point.val_loss) : std::string(), " lr ", lr, " grad_norm ",
                outcome.grad_norm, " ", std::llround(point.tokens_per_s), " tokens/s",
                peak_tflops > 0 ? cat(" MFU ", std::round(point.mfu * 1000) / 10, "%") : std::string(), " peak mem ",
                format_gib(peak_memory_bytes(device)), " ETA ",
                std::llround(train_seconds / static_cast<double>(steps_this_run) * static_cast<double>(total_steps - state.step)),
                " s");
    }
    if (options.export_steps > 0 && state.step % options.export_steps == 0 && state.step < total_steps) {
      export_model(runtime, *comm, model, dtype, out_folder / "exports" / cat("step-", state.step), tokenizer_folder);
    }
    const bool stop_signal = runtime.stop_requested_anywhere();
    const bool stop_here = options.stop_after_steps > 0 && steps_this_run >= options.stop_after_steps && state.step < total_steps;
    // During a streak of non-finite steps the last checkpoint stays the last good one.
    const bool periodic = options.save_steps > 0 && state.step % options.save_steps == 0 && state.bad_in_row == 0;
    if (stop_signal || stop_here || periodic || state.step == total_steps) {
      save_checkpoint(store, zero, state, zero_options.bucket_elements);
      if (runtime.is_root()) write_curve_files(out_folder, state.curve);
    }
    if (stop_signal) {
      log::info("train: checkpoint of step ", state.step, " written; stopping on the signal");
      runtime.throw_if_stop_requested();
    }
    if (stop_here) {
      throw Paused(cat("train: stopped after ", steps_this_run, " steps (train.stop_after_steps) at step ", state.step, " of ",
                       total_steps, "; the checkpoint is in the run store: rerun the same command to continue"));
    }
  }

  const fs::path model_folder = paths.model_folder;
  if (options.export_model) export_model(runtime, *comm, model, dtype, model_folder, tokenizer_folder);
  double peak = peak_memory_bytes(device);
  std::vector<double> peaks(static_cast<size_t>(runtime.world_size()));
  runtime.world().all_gather(&peak, peaks.data(), 1, DType::Float64);
  const std::vector<CurvePoint>& curve = state.curve;
  Json record = {{"steps", state.step},
                 {"final_loss", curve.empty() ? Json() : Json(curve.back().loss)},
                 {"first_loss", curve.empty() ? Json() : Json(curve.front().loss)},
                 {"train_samples", split.train.size()},
                 {"validation_samples", split.validation.size()},
                 {"world_size", runtime.world_size()},
                 {"zero_stage", options.zero_stage},
                 {"dtype", dtype_name(dtype)},
                 {"parameters", model.config().parameter_count()},
                 {"optimizer_elements_per_rank", zero.layout().shard_numel},
                 {"optimizer_bytes_per_rank", zero.state_bytes()},
                 {"peak_memory_bytes_per_rank", peaks},
                 {"model", options.export_model ? Json(model_folder.string()) : Json()},
                 {"curve", (out_folder / "curve.csv").string()}};
  for (const CurvePoint& point : curve) {
    if (point.val_loss) record["final_val_loss"] = *point.val_loss;
  }
  return record;
}

}  // namespace grlm
