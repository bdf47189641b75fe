#include "grlm/core/store.hpp"

#include <hdf5.h>
#include <mpi.h>
#include <sys/statvfs.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <optional>
#include <thread>

#include "grlm/core/error.hpp"
#include "grlm/core/hash.hpp"
#include "grlm/core/log.hpp"
#include "grlm/core/runtime.hpp"

namespace grlm {
namespace {

// The innermost message of HDF5's error stack (the most specific reason, e.g. "unable to open
// file"), and below it what the operating system or MPI-IO said when the stack holds it (e.g.
// "No space left on device"), which HDF5 keeps in a deeper entry's text.
std::string hdf5_error_text() {
  std::vector<std::string> messages;
  H5Ewalk2(
      H5E_DEFAULT, H5E_WALK_UPWARD,
      [](unsigned, const H5E_error2_t* entry, void* out) -> herr_t {
        if (entry->desc != nullptr) static_cast<std::vector<std::string>*>(out)->push_back(entry->desc);
        return 0;
      },
      &messages);
  H5Eclear2(H5E_DEFAULT);
  if (messages.empty()) return "unknown HDF5 error";
  std::string text = messages.front();
  for (const std::string& message : messages) {
    for (const char* cause : {"No space left on device", "Disk quota exceeded", "Read-only file system", "Permission denied",
                              "Input/output error"}) {
      if (message.find(cause) != std::string::npos && text.find(cause) == std::string::npos) text += cat(" (", cause, ")");
    }
  }
  return text;
}

hid_t check_id(hid_t id, const std::string& what) {
  if (id < 0) throw Error(cat("HDF5: ", what, ": ", hdf5_error_text()));
  return id;
}

void check_status(herr_t status, const std::string& what) {
  if (status < 0) throw Error(cat("HDF5: ", what, ": ", hdf5_error_text()));
}

// Owns one HDF5 identifier and closes it with the matching function.
class Handle {
 public:
  Handle(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  ~Handle() {
    if (id_ >= 0) close_(id_);
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  hid_t get() const { return id_; }

 private:
  hid_t id_;
  herr_t (*close_)(hid_t);
};

hid_t native_type(DType dtype) {
  switch (dtype) {
    case DType::UInt8: return H5T_NATIVE_UINT8;
    case DType::Int32: return H5T_NATIVE_INT32;
    case DType::Int64: return H5T_NATIVE_INT64;
    case DType::Float32: return H5T_NATIVE_FLOAT;
    case DType::Float64: return H5T_NATIVE_DOUBLE;
    case DType::BFloat16:
    case DType::Float16: break;
  }
  throw Error(cat("the run store keeps ", dtype_name(dtype), " data as float32: convert first"));
}

hid_t utf8_string_type() {
  const hid_t type = H5Tcopy(H5T_C_S1);
  H5Tset_size(type, H5T_VARIABLE);
  H5Tset_cset(type, H5T_CSET_UTF8);
  return type;
}

std::string stage_group(const std::string& stage) { return "/" + stage; }

bool link_exists(hid_t file, const std::string& path) {
  // Walk each component: H5Lexists fails on a path whose parent is missing.
  size_t position = 1;
  while (position <= path.size()) {
    const size_t slash = path.find('/', position);
    const std::string prefix = path.substr(0, slash);
    if (H5Lexists(file, prefix.c_str(), H5P_DEFAULT) <= 0) return false;
    if (slash == std::string::npos) break;
    position = slash + 1;
  }
  return true;
}

void make_parent_groups(hid_t file, const std::string& path) {
  size_t position = 1;
  while (true) {
    const size_t slash = path.find('/', position);
    if (slash == std::string::npos) return;
    const std::string group = path.substr(0, slash);
    if (H5Lexists(file, group.c_str(), H5P_DEFAULT) <= 0) {
      Handle created(check_id(H5Gcreate2(file, group.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                              "create group " + group),
                     H5Gclose);
    }
    position = slash + 1;
  }
}

void write_string_attribute(hid_t file, const std::string& object_path, const std::string& name,
                            const std::string& value) {
  Handle object(check_id(H5Oopen(file, object_path.c_str(), H5P_DEFAULT), "open " + object_path),
                H5Oclose);
  if (H5Aexists(object.get(), name.c_str()) > 0) H5Adelete(object.get(), name.c_str());
  Handle type(utf8_string_type(), H5Tclose);
  Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  Handle attribute(check_id(H5Acreate2(object.get(), name.c_str(), type.get(), space.get(),
                                       H5P_DEFAULT, H5P_DEFAULT),
                            "create attribute " + name + " on " + object_path),
                   H5Aclose);
  const char* text = value.c_str();
  check_status(H5Awrite(attribute.get(), type.get(), &text), "write attribute " + name);
}

// Empty when the object or attribute is missing.
std::string read_string_attribute(hid_t file, const std::string& object_path, const std::string& name) {
  if (!link_exists(file, object_path)) return {};
  Handle object(check_id(H5Oopen(file, object_path.c_str(), H5P_DEFAULT), "open " + object_path),
                H5Oclose);
  if (H5Aexists(object.get(), name.c_str()) <= 0) return {};
  Handle attribute(check_id(H5Aopen(object.get(), name.c_str(), H5P_DEFAULT), "open attribute " + name),
                   H5Aclose);
  Handle type(utf8_string_type(), H5Tclose);
  char* text = nullptr;
  check_status(H5Aread(attribute.get(), type.get(), &text), "read attribute " + name);
  std::string value = text != nullptr ? text : "";
  H5free_memory(text);
  return value;
}

StageStatus read_stage_status(hid_t file, const std::string& stage) {
  StageStatus status;
  const std::string group = stage_group(stage);
  if (!link_exists(file, group)) return status;
  const std::string state = read_string_attribute(file, group, "status");
  status.stage_hash = read_string_attribute(file, group, "stage_hash");
  if (state == "complete") {
    status.state = StageState::Complete;
    status.record = nlohmann::json::parse(read_string_attribute(file, group, "record"));
  } else if (state == "in_progress") {
    status.state = StageState::InProgress;
  }
  return status;
}

std::string type_description(hid_t type) {
  switch (H5Tget_class(type)) {
    case H5T_INTEGER:
      return cat(H5Tget_sign(type) == H5T_SGN_NONE ? "uint" : "int", 8 * H5Tget_size(type));
    case H5T_FLOAT: return cat("float", 8 * H5Tget_size(type));
    case H5T_STRING: return H5Tis_variable_str(type) > 0 ? "string" : "fixed-string";
    default: return "other";
  }
}

std::vector<uint64_t> dataset_dims(hid_t dataset) {
  Handle space(H5Dget_space(dataset), H5Sclose);
  const int rank = H5Sget_simple_extent_ndims(space.get());
  std::vector<hsize_t> dims(static_cast<size_t>(std::max(rank, 0)));
  if (rank > 0) H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  return {dims.begin(), dims.end()};
}

// The XXH3-128 of one dataset's content: numeric and fixed-size data as their bytes in native
// layout, read in blocks of rows; variable-length strings as length-prefixed texts.
std::string dataset_checksum(hid_t file, const std::string& path) {
  Handle dataset(check_id(H5Dopen2(file, path.c_str(), H5P_DEFAULT), "open " + path), H5Dclose);
  Handle type(check_id(H5Dget_type(dataset.get()), "type of " + path), H5Tclose);
  const std::vector<uint64_t> dims = dataset_dims(dataset.get());
  uint64_t rows = dims.empty() ? 1 : dims[0], row_elements = 1;
  for (size_t d = 1; d < dims.size(); ++d) row_elements *= dims[d];
  Hasher hasher;
  hasher.field(type_description(type.get()));
  for (uint64_t dim : dims) hasher.field(std::to_string(dim));
  if (rows == 0 || row_elements == 0) return hasher.hex();
  const bool strings = H5Tget_class(type.get()) == H5T_STRING && H5Tis_variable_str(type.get()) > 0;
  Handle memory_type(strings ? utf8_string_type() : H5Tget_native_type(type.get(), H5T_DIR_ASCEND), H5Tclose);
  const size_t element_bytes = strings ? sizeof(char*) : H5Tget_size(memory_type.get());
  const uint64_t rows_per_block = std::max<uint64_t>(1, (uint64_t{64} << 20) / std::max<uint64_t>(1, row_elements * element_bytes));
  std::vector<char> buffer;
  for (uint64_t first = 0; first < rows; first += rows_per_block) {
    const uint64_t count = std::min(rows_per_block, rows - first);
    Handle file_space(H5Dget_space(dataset.get()), H5Sclose);
    std::vector<hsize_t> start(dims.size(), 0), extent(dims.begin(), dims.end());
    if (!dims.empty()) {
      start[0] = first;
      extent[0] = count;
      check_status(H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start.data(), nullptr, extent.data(), nullptr),
                   "select rows of " + path);
    }
    Handle memory_space(dims.empty() ? H5Screate(H5S_SCALAR) : H5Screate_simple(static_cast<int>(dims.size()), extent.data(), nullptr),
                        H5Sclose);
    buffer.resize(count * row_elements * element_bytes);
    check_status(H5Dread(dataset.get(), memory_type.get(), memory_space.get(), file_space.get(), H5P_DEFAULT, buffer.data()),
                 "read " + path + " for its checksum");
    if (strings) {
      auto* texts = reinterpret_cast<char**>(buffer.data());
      for (uint64_t i = 0; i < count * row_elements; ++i) hasher.field(texts[i] == nullptr ? std::string_view() : std::string_view(texts[i]));
      H5Dvlen_reclaim(memory_type.get(), memory_space.get(), H5P_DEFAULT, buffer.data());
    } else {
      hasher.update(std::string_view(buffer.data(), buffer.size()));
    }
  }
  return hasher.hex();
}

// Every dataset under `group`, by absolute path, with its checksum.
nlohmann::json group_checksums(hid_t file, const std::string& group) {
  std::vector<std::string> paths;
  // A damaged object under the group stops the walk; the datasets seen so far are still listed.
  H5Ovisit_by_name2(
      file, group.c_str(), H5_INDEX_NAME, H5_ITER_INC,
      [](hid_t, const char* name, const H5O_info_t* info, void* out) -> herr_t {
        if (info->type == H5O_TYPE_DATASET) static_cast<std::vector<std::string>*>(out)->push_back(name);
        return 0;
      },
      &paths, H5O_INFO_BASIC, H5P_DEFAULT);
  H5Eclear2(H5E_DEFAULT);
  nlohmann::json checksums = nlohmann::json::object();
  for (const std::string& name : paths) {
    try {
      checksums[group + "/" + name] = dataset_checksum(file, group + "/" + name);
    } catch (const Error& error) {  // a damaged leftover (a write cut short) the stage no longer uses
      checksums[group + "/" + name] = cat("unreadable: ", error.what());
    }
  }
  return checksums;
}

// The datasets of `stage` whose content no longer has the checksum its completion record keeps
// (`recorded`: dataset -> checksum), each {"dataset", "problem"}; empty when all match.
nlohmann::json changed_datasets(hid_t file, const std::string& stage, const nlohmann::json& recorded) {
  nlohmann::json changed = nlohmann::json::array();
  const nlohmann::json now = group_checksums(file, stage_group(stage));
  for (const auto& [dataset, checksum] : recorded.items()) {
    if (!now.contains(dataset)) {
      changed.push_back({{"dataset", dataset}, {"problem", "missing"}});
    } else if (now[dataset] != checksum) {
      changed.push_back({{"dataset", dataset}, {"problem", "content differs from when the stage completed"}});
    }
  }
  return changed;
}

// A stage group HDF5 can neither delete nor move: the store is rebuilt without it (salvage_store).
class StageGroupStuck : public Error {
 public:
  StageGroupStuck(const std::string& message, std::string group) : Error(message), group_(std::move(group)) {}
  const std::string& group() const { return group_; }

 private:
  std::string group_;
};

// Removes a stage's group. A group left damaged by a write cut short (a full disk) may not be
// removable: HDF5 must update the objects it unlinks. It is then moved aside under /_damaged
// (moving a link touches only the groups that hold it) so the stage can start over; its space
// stays in the file until `h5repack`.
void unlink_stage_group(hid_t file, const std::string& group) {
  if (!link_exists(file, group)) return;
  if (H5Ldelete(file, group.c_str(), H5P_DEFAULT) >= 0) return;
  const std::string reason = hdf5_error_text();
  if (!link_exists(file, "/_damaged")) {
    Handle created(H5Gcreate2(file, "/_damaged", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
  }
  std::string aside;
  for (int n = 0; aside.empty() || link_exists(file, aside); ++n) aside = cat("/_damaged", group, "-", n);
  if (H5Lmove(file, group.c_str(), file, aside.c_str(), H5P_DEFAULT, H5P_DEFAULT) < 0) {
    throw StageGroupStuck(cat("HDF5: delete ", group, ": ", reason, "; moving it aside failed too: ", hdf5_error_text()),
                          group.substr(1));
  }
  log::warn("run store: ", group, " could not be deleted (", reason, ", left by a write cut short?); moved aside to ",
            aside, " so the stage starts over (h5repack reclaims its space)");
}

// The filesystem holding `path`: bytes free for unprivileged writers and its size; none when
// statvfs fails.
struct DiskSpace {
  double free_bytes = 0;
  double total_bytes = 0;
};
std::optional<DiskSpace> disk_space(const std::filesystem::path& path) {
  struct statvfs space{};
  if (statvfs(path.empty() ? "." : path.c_str(), &space) != 0) return std::nullopt;
  const auto block = static_cast<double>(space.f_frsize);
  return DiskSpace{static_cast<double>(space.f_bavail) * block, static_cast<double>(space.f_blocks) * block};
}

}  // namespace

namespace {

// The store's root group holds its stage names. By default its name heap grows by moving to the
// end of the file and its symbol table splits into nodes placed there too, so a file cut short
// anywhere (a full disk, a failed copy) lost every name and so every stage. Sized up front, the
// root's structures stay at the start of the file: a cut loses only what was written after it.
hid_t store_creation_properties() {
  const hid_t properties = H5Pcreate(H5P_FILE_CREATE);
  H5Pset_local_heap_size_hint(properties, 4096);
  H5Pset_sym_k(properties, 16, 32);  // up to 64 top-level groups in one symbol-table node
  return properties;
}

// "truncated file: eof = A, sblock->base_addr = B, stored_eof = C" (HDF5's open check): C, or 0.
uint64_t stored_eof_of_truncated(const std::string& open_error) {
  const size_t at = open_error.find("stored_eof = ");
  if (open_error.find("truncated file") == std::string::npos || at == std::string::npos) return 0;
  return std::strtoull(open_error.c_str() + at + std::strlen("stored_eof = "), nullptr, 10);
}

std::vector<std::string> top_level_names(hid_t file) {
  std::vector<std::string> names;
  H5Literate(
      file, H5_INDEX_NAME, H5_ITER_INC, nullptr,
      [](hid_t, const char* name, const H5L_info_t*, void* out) -> herr_t {
        static_cast<std::vector<std::string>*>(out)->push_back(name);
        return 0;
      },
      &names);
  H5Eclear2(H5E_DEFAULT);
  return names;
}

// Why the copy of a complete stage cannot be trusted, or empty: each dataset its completion
// record lists must read back with the checksum recorded then (a record without checksums,
// from before grlm kept them, is trusted).
std::string salvaged_stage_problem(hid_t copy, const std::string& stage, const nlohmann::json& record) {
  if (!record.is_object() || !record.contains("checksums")) return {};
  const nlohmann::json changed = changed_datasets(copy, stage, record["checksums"]);
  return changed.empty() ? std::string() : cat(changed[0]["dataset"].get<std::string>(), ": ", changed[0]["problem"].get<std::string>());
}

// Serial (rank 0). Rebuilds a damaged run store: the complete stages whose datasets still match
// their completion checksums (and /run) are copied into a fresh file that replaces it; stages in
// progress, damaged ones and `drop` start over. The original is kept beside it as
// grlm.h5.damaged-<UTC time> until the user deletes it. A file cut short (its recorded end past
// its size: writes a full disk refused) is first extended with zeros to its recorded size, so
// that HDF5 opens it; the extension is sparse and only complete stages whose content verifies are
// kept (when nothing can be read, none: the run starts over). Throws, leaving the original in
// place, when the new file cannot be written.
void salvage_store(const std::filesystem::path& path, const std::string& why, const std::set<std::string>& drop) {
  const std::string name = path.string();
  log::warn("run store ", name, " is damaged (", why, "): rebuilding it from its complete stages");
  hid_t source_id = H5Fopen(name.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (source_id < 0) {
    const std::string reason = hdf5_error_text();
    const uint64_t recorded_size = stored_eof_of_truncated(reason);
    std::error_code error;
    if (recorded_size > std::filesystem::file_size(path, error) && !error) {
      std::filesystem::resize_file(path, recorded_size, error);
      if (!error) source_id = H5Fopen(name.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    }
    if (source_id < 0) log::warn("run store ", name, ": nothing in it can be read (", reason, ")");
  }
  Handle source(source_id, H5Fclose);
  const std::filesystem::path rebuilt_path = path.string() + ".rebuilt";
  std::vector<std::string> kept, dropped;
  try {
    Handle creation(store_creation_properties(), H5Pclose);
    Handle rebuilt(check_id(H5Fcreate(rebuilt_path.c_str(), H5F_ACC_TRUNC, creation.get(), H5P_DEFAULT),
                            "create " + rebuilt_path.string()),
                   H5Fclose);
    for (const std::string& top : source.get() < 0 ? std::vector<std::string>() : top_level_names(source.get())) {
      if (top == "_damaged") continue;
      StageStatus status;
      try {
        if (top != "run") status = read_stage_status(source.get(), top);
      } catch (const std::exception& error) {
        dropped.push_back(cat(top, " (unreadable: ", error.what(), ")"));
        continue;
      }
      if (top != "run" && (status.state != StageState::Complete || drop.count(top) > 0)) {
        dropped.push_back(cat(top, status.state == StageState::Complete ? " (damaged)" : " (was in progress)"));
        continue;
      }
      const std::string group = "/" + top;
      if (H5Ocopy(source.get(), group.c_str(), rebuilt.get(), group.c_str(), H5P_DEFAULT, H5P_DEFAULT) < 0) {
        dropped.push_back(cat(top, " (unreadable: ", hdf5_error_text(), ")"));
        H5Ldelete(rebuilt.get(), group.c_str(), H5P_DEFAULT);
        H5Eclear2(H5E_DEFAULT);
        continue;
      }
      const std::string problem = top == "run" ? std::string() : salvaged_stage_problem(rebuilt.get(), top, status.record);
      if (!problem.empty()) {
        dropped.push_back(cat(top, " (", problem, ")"));
        check_status(H5Ldelete(rebuilt.get(), group.c_str(), H5P_DEFAULT), "drop " + group + " from the rebuilt store");
        continue;
      }
      if (top != "run") kept.push_back(top);
    }
    check_status(H5Fflush(rebuilt.get(), H5F_SCOPE_GLOBAL), "write " + rebuilt_path.string());
  } catch (...) {
    std::error_code ignored;
    std::filesystem::remove(rebuilt_path, ignored);
    throw;
  }
  const std::filesystem::path damaged_path = path.string() + ".damaged-" + log::utc_now("%Y%m%dT%H%M%SZ");
  std::filesystem::rename(path, damaged_path);
  std::filesystem::rename(rebuilt_path, path);
  log::warn("run store rebuilt: kept ", kept.empty() ? std::string("no stage") : join(kept, ", "), "; starting over: ",
            dropped.empty() ? std::string("nothing else") : join(dropped, ", "), ". The damaged file is kept as ",
            damaged_path.string(), " (delete it once the run is done)");
}

// Whether a failure to open the store means its content is damaged (a rebuild may help) rather
// than that it cannot be reached (permissions, locks, a missing file) or is no HDF5 file at all
// (not a store grlm wrote), where a rebuild must not run.
bool damaged_store_error(const std::string& open_error) {
  for (const char* unreachable : {"Permission denied", "Read-only file system", "unable to lock", "No such file",
                                  "Input/output error", "file signature not found"}) {
    if (open_error.find(unreachable) != std::string::npos) return false;
  }
  return true;
}

}  // namespace

// Parallel HDF5 is not error-consistent across ranks: when a write fails on some ranks only (a
// full disk), the others can wait forever in a collective of its metadata cache (seen at np 3:
// two ranks in a barrier, one in a broadcast, inside H5Fclose). No rank can return from there, so
// a thread per rank watches the store's writes: one still running after kStuckAfter while the
// disk has no space left ends the whole job with the cause. A slow write on a disk with space is
// left alone, however long it takes. The stage stays in progress and a rerun resumes it.
class StuckWriteWatch {
 public:
  static constexpr std::chrono::seconds kStuckAfter{20};
  static constexpr double kFullBelowBytes = 4.0 * (1 << 20);

  StuckWriteWatch(std::filesystem::path run_dir, std::filesystem::path file)
      : run_dir_(std::move(run_dir)), file_(std::move(file)), thread_([this] { watch(); }) {}
  ~StuckWriteWatch() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }

  // Marks one write (writes do not nest: the outermost one counts).
  class Writing {
   public:
    explicit Writing(StuckWriteWatch* watch) : watch_(watch), outermost_(watch != nullptr && watch->begin()) {}
    ~Writing() {
      if (outermost_) watch_->end();
    }
    Writing(const Writing&) = delete;
    Writing& operator=(const Writing&) = delete;

   private:
    StuckWriteWatch* watch_;
    bool outermost_;
  };

 private:
  bool begin() {
    std::lock_guard lock(mutex_);
    if (writing_) return false;
    writing_ = true;
    started_ = std::chrono::steady_clock::now();
    return true;
  }
  void end() {
    std::lock_guard lock(mutex_);
    writing_ = false;
  }

  void watch() {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
      wake_.wait_for(lock, std::chrono::seconds(1));
      if (stopping_ || !writing_ || std::chrono::steady_clock::now() - started_ < kStuckAfter) continue;
      const std::optional<DiskSpace> space = disk_space(run_dir_);
      if (!space || space->free_bytes >= kFullBelowBytes) continue;
      const double free = space->free_bytes;
      log::error("HDF5: a write to ", file_.string(), " has not returned for ", kStuckAfter.count(),
                 " s and its filesystem has no space left on device (", std::round(free / 1024), " KiB free); ending "
                 "the job (a collective write that failed on some ranks cannot finish). Free space and rerun: the "
                 "stage resumes");
      Runtime::abort_job(1);
    }
  }

  std::filesystem::path run_dir_;
  std::filesystem::path file_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool writing_ = false;
  std::chrono::steady_clock::time_point started_;
  std::thread thread_;  // last: started once the members it reads exist
};

std::string_view stage_state_name(StageState state) {
  switch (state) {
    case StageState::Absent: return "absent";
    case StageState::InProgress: return "incomplete";
    case StageState::Complete: return "complete";
  }
  return "?";
}

RunStore::RunStore(Runtime& runtime, const std::filesystem::path& file, FileMode mode)
    : runtime_(runtime), run_dir_(file.parent_path()), file_path_(file), read_only_(mode == FileMode::ReadOnly) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  std::string problem;
  if (runtime_.is_root()) {
    std::error_code error;
    if (read_only_ && !std::filesystem::exists(file)) problem = cat(file.string(), ": no such file");
    if (!read_only_) {
      if (!run_dir_.empty()) std::filesystem::create_directories(run_dir_, error);
      if (error) problem = cat("cannot create ", run_dir_.string(), ": ", error.message());
      if (mode == FileMode::Truncate) std::filesystem::remove(file, error);
    }
  }
  throw_rank0_problem<InputError>(runtime_.world(), problem);
  open_parallel();
  if (!read_only_) stuck_write_watch_ = std::make_unique<StuckWriteWatch>(run_dir_, file_path_);
}

RunStore::RunStore(Runtime& runtime, const std::filesystem::path& run_dir)
    : runtime_(runtime), run_dir_(run_dir), file_path_(run_dir / kFileName) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);  // errors are raised as exceptions with HDF5's text
  std::string problem;
  if (runtime_.is_root()) {
    std::error_code error;
    std::filesystem::create_directories(run_dir_, error);
    if (error) problem = cat("cannot create run_dir ", run_dir_.string(), ": ", error.message());
  }
  throw_rank0_problem<Error>(runtime_.world(), problem);
  open_or_rebuild();
  if (!read_only_) stuck_write_watch_ = std::make_unique<StuckWriteWatch>(run_dir_, file_path_);
}

RunStore::~RunStore() {
  const StuckWriteWatch::Writing watched(stuck_write_watch_.get());  // closing flushes what is cached
  if (file_ >= 0) H5Fclose(file_);
}

int RunStore::rank() const { return runtime_.rank(); }
int RunStore::world_size() const { return runtime_.world_size(); }
Communicator& RunStore::comm() { return runtime_.world(); }

void RunStore::open_parallel() {
  Handle access(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  check_status(H5Pset_fapl_mpio(access.get(), MPI_COMM_WORLD, MPI_INFO_NULL), "set MPI-IO driver");
  const std::string path = file_path().string();
  int32_t exists = 0;
  if (runtime_.is_root()) exists = std::filesystem::exists(file_path()) ? 1 : 0;
  runtime_.world().broadcast(&exists, 1, DType::Int32, 0);
  if (exists) {
    file_ = H5Fopen(path.c_str(), read_only_ ? H5F_ACC_RDONLY : H5F_ACC_RDWR, access.get());
    if (file_ < 0) {
      throw InputError(cat("cannot open ", path, ": ", hdf5_error_text(),
                           " (is it an HDF5 file? is another grlm writing it?)"));
    }
  } else {
    Handle creation(store_creation_properties(), H5Pclose);
    file_ = check_id(H5Fcreate(path.c_str(), H5F_ACC_EXCL, creation.get(), access.get()),
                     "create run store " + path);
  }
}

void RunStore::close_parallel() {
  if (file_ >= 0) {
    const hid_t file = file_;
    file_ = -1;
    check_status(H5Fclose(file), "close run store");
  }
}

void RunStore::serial_section(const std::function<void(int64_t file)>& body) {
  writing([&] { close_parallel(); });
  std::string problem;
  if (runtime_.is_root()) problem = run_serially(body);
  problem = broadcast_bytes(runtime_.world(), problem, 0);
  open_parallel();
  if (!problem.empty()) writing([&] { throw Error(problem); });
}

std::string RunStore::run_serially(const std::function<void(int64_t file)>& body) {
  const std::string path = file_path().string();
  for (bool rebuilt = false;; rebuilt = true) {
    const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    if (file < 0) return cat("HDF5: reopen ", path, ": ", hdf5_error_text());
    std::string problem, stuck_group;
    try {
      body(file);
    } catch (const StageGroupStuck& error) {
      problem = error.what();
      stuck_group = error.group();
    } catch (const std::exception& error) {
      problem = error.what();
    }
    if (H5Fclose(file) < 0 && problem.empty()) problem = "HDF5: close after serial write: " + hdf5_error_text();
    if (stuck_group.empty() || rebuilt) return problem;
    try {
      salvage_store(file_path_, problem, {stuck_group});
    } catch (const std::exception& error) {
      return cat(problem, "; rebuilding the store without it failed too: ", error.what());
    }
  }
}

void RunStore::open_or_rebuild() {
  std::string failure;
  try {
    open_parallel();
  } catch (const InputError& error) {
    failure = error.what();
  }
  // Every rank reads the same superblock, so they fail alike; rank 0's outcome decides.
  failure = broadcast_bytes(runtime_.world(), failure, 0);
  if (failure.empty()) return;
  if (!damaged_store_error(failure)) throw InputError(failure);
  std::string problem;
  if (runtime_.is_root()) {
    try {
      salvage_store(file_path_, failure, {});
    } catch (const std::exception& error) {
      problem = cat(failure, "; rebuilding it failed: ", error.what());
    }
  }
  throw_rank0_problem<InputError>(runtime_.world(), problem);
  open_parallel();
}

void RunStore::flush() {
  writing([&] { check_status(H5Fflush(file_, H5F_SCOPE_GLOBAL), "flush run store"); });
}

StageStatus RunStore::stage_status(const std::string& stage) { return read_stage_status(file_, stage); }

bool RunStore::start_stage(const std::string& stage, const std::string& stage_hash, bool resume) {
  const StageStatus status = stage_status(stage);
  const bool keep = resume && status.state == StageState::InProgress && status.stage_hash == stage_hash;
  serial_section([&](int64_t file) {
    const std::string group = stage_group(stage);
    if (!keep) {
      unlink_stage_group(file, group);
      Handle created(check_id(H5Gcreate2(file, group.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                              "create group " + group),
                     H5Gclose);
    }
    write_string_attribute(file, group, "stage_hash", stage_hash);
    write_string_attribute(file, group, "status", "in_progress");
    if (H5Aexists_by_name(file, group.c_str(), "record", H5P_DEFAULT) > 0) {
      H5Adelete_by_name(file, group.c_str(), "record", H5P_DEFAULT);
    }
  });
  return keep;
}

void RunStore::complete_stage(const std::string& stage, const nlohmann::json& record) {
  flush();
  serial_section([&](int64_t file) {
    const std::string group = stage_group(stage);
    // What the stage wrote, as read back from the file: `grlm inspect --verify` recomputes it.
    nlohmann::json full_record = record;
    full_record["checksums"] = group_checksums(file, group);
    write_string_attribute(file, group, "record", full_record.dump());
    // Last: a reader that sees "complete" also sees the record and every dataset, all on disk.
    write_string_attribute(file, group, "status", "complete");
  });
}

void RunStore::delete_stage(const std::string& stage) {
  serial_section([&](int64_t file) { unlink_stage_group(file, stage_group(stage)); });
}

bool RunStore::exists(const std::string& path) { return link_exists(file_, path); }

void RunStore::remove_if_exists(const std::string& path) {
  if (link_exists(file_, path)) check_status(H5Ldelete(file_, path.c_str(), H5P_DEFAULT), "remove " + path);
}

std::vector<uint64_t> RunStore::dims(const std::string& path) {
  Handle dataset(check_id(H5Dopen2(file_, path.c_str(), H5P_DEFAULT), "open dataset " + path), H5Dclose);
  return dataset_dims(dataset.get());
}

void RunStore::create_dataset(const std::string& path, const std::vector<uint64_t>& dims, DType dtype) {
  if (link_exists(file_, path)) {
    throw Error(cat("run store: dataset ", path, " already exists"));
  }
  make_parent_groups(file_, path);
  const std::vector<hsize_t> shape(dims.begin(), dims.end());
  Handle space(check_id(H5Screate_simple(static_cast<int>(shape.size()), shape.data(), nullptr),
                        "dataspace for " + path),
               H5Sclose);
  Handle create(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  // Resume relies on chunk logs, never on fill values: skip writing fill values over big datasets.
  H5Pset_fill_time(create.get(), H5D_FILL_TIME_NEVER);
  Handle dataset(check_id(H5Dcreate2(file_, path.c_str(), native_type(dtype), space.get(), H5P_DEFAULT,
                                     create.get(), H5P_DEFAULT),
                          "create dataset " + path),
                 H5Dclose);
}

namespace {

// Selects rows [first_row, first_row + num_rows) of `dataset` for a transfer; returns
// (memory space, file space).
std::pair<hid_t, hid_t> row_selection(hid_t dataset, const std::string& path, uint64_t first_row,
                                      uint64_t num_rows) {
  const hid_t file_space = H5Dget_space(dataset);
  const int rank = H5Sget_simple_extent_ndims(file_space);
  std::vector<hsize_t> dims(static_cast<size_t>(std::max(rank, 1)), 1);
  if (rank > 0) H5Sget_simple_extent_dims(file_space, dims.data(), nullptr);
  if ((rank == 0 && (num_rows > 1 || first_row > 0)) || (rank > 0 && first_row + num_rows > dims[0])) {
    H5Sclose(file_space);
    throw Error(cat("run store: rows [", first_row, ", ", first_row + num_rows, ") outside ", path,
                    " with ", dims[0], " rows"));
  }
  std::vector<hsize_t> start(dims.size(), 0);
  std::vector<hsize_t> count = dims;
  start[0] = first_row;
  count[0] = num_rows;
  hid_t memory_space;
  if (num_rows == 0) {
    H5Sselect_none(file_space);
    const hsize_t one = 1;
    memory_space = H5Screate_simple(1, &one, nullptr);
    H5Sselect_none(memory_space);
  } else {
    if (rank > 0) {
      H5Sselect_hyperslab(file_space, H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr);
    }
    memory_space = H5Screate_simple(static_cast<int>(count.size()), count.data(), nullptr);
  }
  return {memory_space, file_space};
}

}  // namespace

namespace {

enum class Direction { Write, Read };

// One collective transfer of rows [first_row, first_row + num_rows) between `data` and `path`.
void transfer_rows(hid_t file_handle, const std::string& path, uint64_t first_row, uint64_t num_rows, void* data,
                   DType dtype, Direction direction, bool collective = true) {
  Handle dataset(check_id(H5Dopen2(file_handle, path.c_str(), H5P_DEFAULT), "open dataset " + path), H5Dclose);
  const auto [memory, file] = row_selection(dataset.get(), path, first_row, num_rows);
  Handle memory_space(memory, H5Sclose);
  Handle file_space(file, H5Sclose);
  Handle transfer(H5Pcreate(H5P_DATASET_XFER), H5Pclose);
  H5Pset_dxpl_mpio(transfer.get(), collective ? H5FD_MPIO_COLLECTIVE : H5FD_MPIO_INDEPENDENT);
  const bool writing = direction == Direction::Write;
  const herr_t status =
      writing ? H5Dwrite(dataset.get(), native_type(dtype), memory_space.get(), file_space.get(), transfer.get(), data)
              : H5Dread(dataset.get(), native_type(dtype), memory_space.get(), file_space.get(), transfer.get(), data);
  check_status(status, cat(writing ? "write" : "read", " rows ", first_row, "+", num_rows, " of ", path));
}

}  // namespace

void RunStore::writing(const std::function<void()>& write) {
  const StuckWriteWatch::Writing watched(stuck_write_watch_.get());
  try {
    write();
  } catch (const Error& error) {
    // HDF5 over MPI-IO reports a full disk as "file write failed": say which file, and why when
    // its filesystem is (nearly) full.
    std::string cause;
    if (const std::optional<DiskSpace> space = disk_space(run_dir_)) {
      const double free_mib = space->free_bytes / (1 << 20);
      const double total_mib = space->total_bytes / (1 << 20);
      if (free_mib < 1 || free_mib < 0.01 * total_mib) {
        cause = cat("; no space left on device: ", std::round(free_mib * 10) / 10, " MiB free on its filesystem");
      }
    }
    throw Error(cat(error.what(), " (in ", file_path_.string(), cause, ")"));
  }
}

void RunStore::write_rows(const std::string& path, uint64_t first_row, uint64_t num_rows,
                          const void* data, DType dtype) {
  // HDF5 takes a const buffer for writes; the cast only shares the transfer code with reads.
  writing([&] { transfer_rows(file_, path, first_row, num_rows, const_cast<void*>(data), dtype, Direction::Write); });
}

void RunStore::write_rows_independent(const std::string& path, uint64_t first_row, uint64_t num_rows, const void* data,
                                      DType dtype) {
  writing([&] {
    transfer_rows(file_, path, first_row, num_rows, const_cast<void*>(data), dtype, Direction::Write, /*collective=*/false);
  });
}

void RunStore::read_rows(const std::string& path, uint64_t first_row, uint64_t num_rows, void* data,
                         DType dtype) {
  transfer_rows(file_, path, first_row, num_rows, data, dtype, Direction::Read);
}

void RunStore::write_strings(const std::string& path, const std::vector<std::string>& local_part, uint64_t columns) {
  // Parts travel as length-prefixed records so any byte, including NUL, survives.
  std::string packed;
  for (const std::string& text : local_part) {
    const uint64_t length = text.size();
    packed.append(reinterpret_cast<const char*>(&length), sizeof length);
    packed += text;
  }
  const std::vector<std::string> parts = all_gather_bytes(runtime_.world(), packed);
  if (link_exists(file_, path)) throw Error(cat("run store: dataset ", path, " already exists"));
  serial_section([&](int64_t file) {
    std::vector<std::string> texts;
    for (const std::string& part : parts) {
      size_t position = 0;
      while (position < part.size()) {
        uint64_t length = 0;
        std::memcpy(&length, part.data() + position, sizeof length);
        position += sizeof length;
        texts.emplace_back(part.substr(position, length));
        position += length;
      }
    }
    make_parent_groups(file, path);
    std::vector<const char*> pointers;
    pointers.reserve(texts.size());
    for (const std::string& text : texts) pointers.push_back(text.c_str());
    const hsize_t count = texts.size();
    if (columns > 0 && count % columns != 0) throw Error(cat("run store: ", count, " strings do not fill ", columns, " columns of ", path));
    const hsize_t shape[2] = {columns > 0 ? count / columns : count, columns};
    Handle space(H5Screate_simple(columns > 0 ? 2 : 1, shape, nullptr), H5Sclose);
    Handle type(utf8_string_type(), H5Tclose);
    Handle dataset(check_id(H5Dcreate2(file, path.c_str(), type.get(), space.get(), H5P_DEFAULT,
                                       H5P_DEFAULT, H5P_DEFAULT),
                            "create string dataset " + path),
                   H5Dclose);
    if (count > 0) {
      check_status(H5Dwrite(dataset.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, pointers.data()),
                   "write strings to " + path);
    }
  });
}

std::vector<std::string> RunStore::read_strings(const std::string& path) {
  Handle dataset(check_id(H5Dopen2(file_, path.c_str(), H5P_DEFAULT), "open dataset " + path), H5Dclose);
  const std::vector<uint64_t> shape = dataset_dims(dataset.get());
  size_t count = 1;  // every element, row-major
  for (uint64_t dim : shape) count *= dim;
  std::vector<char*> pointers(count, nullptr);
  Handle type(utf8_string_type(), H5Tclose);
  if (count > 0) {
    check_status(H5Dread(dataset.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, pointers.data()),
                 "read strings from " + path);
  }
  std::vector<std::string> texts;
  texts.reserve(count);
  for (char* text : pointers) {
    texts.emplace_back(text != nullptr ? text : "");
    H5free_memory(text);
  }
  return texts;
}

void RunStore::set_attribute(const std::string& object_path, const std::string& name,
                             const std::string& value) {
  set_attributes(object_path, {{name, value}});
}

void RunStore::set_attributes(const std::string& object_path,
                              const std::vector<std::pair<std::string, std::string>>& names_and_values) {
  serial_section([&](int64_t file) {
    if (!link_exists(file, object_path)) make_parent_groups(file, object_path + "/attribute-holder");
    for (const auto& [name, value] : names_and_values) write_string_attribute(file, object_path, name, value);
  });
}

std::string RunStore::get_attribute(const std::string& object_path, const std::string& name) {
  return read_string_attribute(file_, object_path, name);
}

ChunkLog::ChunkLog(RunStore& store, const std::string& stage, uint64_t num_chunks)
    : store_(store), path_("/" + stage + "/_chunks_done"), done_(num_chunks, 0) {
  if (store_.exists(path_)) {
    const std::vector<uint64_t> shape = store_.dims(path_);
    if (shape.size() != 1 || shape[0] != num_chunks) {
      throw Error(cat("run store: ", path_, " has ", shape.empty() ? 0 : shape[0], " chunks, expected ",
                      num_chunks, " (the stage's work was split differently: delete the stage to restart it)"));
    }
    done_ = store_.read_all<uint8_t>(path_);
  } else {
    store_.create_dataset(path_, {num_chunks}, DType::UInt8);
    store_.write_rows<uint8_t>(path_, 0, store_.rank() == 0 ? num_chunks : 0, done_.data());
    store_.flush();
  }
}

uint64_t ChunkLog::count_done() const {
  return static_cast<uint64_t>(std::count(done_.begin(), done_.end(), uint8_t{1}));
}

void ChunkLog::commit(const std::vector<uint64_t>& local_chunks_done) {
  for (uint64_t chunk : local_chunks_done) done_.at(chunk) = 1;
  // The chunks' data must be on disk before the log says they are done.
  store_.flush();
  // ... and in one log every rank agrees on, written by rank 0 alone.
  std::vector<int32_t> merged(done_.begin(), done_.end());
  store_.comm().all_reduce(merged.data(), merged.data(), merged.size(), DType::Int32, ReduceOp::Max);
  for (size_t i = 0; i < done_.size(); ++i) done_[i] = static_cast<uint8_t>(merged[i] != 0);
  store_.write_rows<uint8_t>(path_, 0, store_.rank() == 0 ? done_.size() : 0, done_.data());
  store_.flush();
}

void ChunkLog::mark_done_independent(uint64_t chunk) {
  done_.at(chunk) = 1;
  const uint8_t done = 1;
  store_.write_rows_independent(path_, chunk, 1, &done, DType::UInt8);
}

nlohmann::json verify_store(const std::filesystem::path& path) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  const std::string name = path.string();
  Handle file(H5Fopen(name.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  if (file.get() < 0) throw InputError(cat("cannot open run store ", name, ": ", hdf5_error_text()));
  nlohmann::json report = {{"file", name}, {"stages", nlohmann::json::array()}};
  const nlohmann::json description = describe_store(path);
  for (const auto& stage : description["stages"]) {
    const nlohmann::json& record = stage["record"];
    nlohmann::json entry = {{"name", stage["name"]}, {"status", stage["status"]}};
    if (stage["status"] != "complete" || !record.is_object() || !record.contains("checksums")) {
      entry["verified"] = nullptr;  // nothing recorded to compare with
    } else {
      const nlohmann::json changed = changed_datasets(file.get(), stage["name"].get<std::string>(), record["checksums"]);
      entry["verified"] = changed.empty();
      entry["datasets"] = record["checksums"].size();
      entry["changed"] = changed;
    }
    report["stages"].push_back(entry);
  }
  return report;
}

std::string recorded_run_config(const std::filesystem::path& path) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  const std::string name = path.string();
  Handle file(H5Fopen(name.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  if (file.get() < 0) throw InputError(cat("cannot open run store ", name, ": ", hdf5_error_text()));
  return read_string_attribute(file.get(), "/run", "config");
}

nlohmann::json describe_store(const std::filesystem::path& path) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  const std::string name = path.string();
  Handle file(H5Fopen(name.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  if (file.get() < 0) throw InputError(cat("cannot open run store ", name, ": ", hdf5_error_text()));
  nlohmann::json description = {{"file", name}, {"stages", nlohmann::json::array()},
                                {"datasets", nlohmann::json::array()}};
  description["config"] = read_string_attribute(file.get(), "/run", "config");
  struct Walk {
    hid_t file;
    nlohmann::json* description;
  } walk{file.get(), &description};
  H5Ovisit2(
      file.get(), H5_INDEX_NAME, H5_ITER_INC,
      [](hid_t root, const char* name, const H5O_info_t* info, void* data) -> herr_t {
        auto* state = static_cast<Walk*>(data);
        const std::string path = std::string("/") + name;
        if (std::strcmp(name, ".") == 0) return 0;
        if (path.rfind("/_damaged", 0) == 0) return 0;  // stage groups moved aside (unlink_stage_group)
        if (info->type == H5O_TYPE_GROUP && path.find('/', 1) == std::string::npos && path != "/run") {
          const StageStatus status = read_stage_status(root, path.substr(1));
          (*state->description)["stages"].push_back({{"name", path.substr(1)},
                                                     {"status", stage_state_name(status.state)},
                                                     {"stage_hash", status.stage_hash},
                                                     {"record", status.record}});
        } else if (info->type == H5O_TYPE_DATASET) {
          Handle dataset(H5Dopen2(root, path.c_str(), H5P_DEFAULT), H5Dclose);
          Handle type(H5Dget_type(dataset.get()), H5Tclose);
          (*state->description)["datasets"].push_back(
              {{"path", path}, {"shape", dataset_dims(dataset.get())}, {"type", type_description(type.get())}});
        }
        return 0;
      },
      &walk, H5O_INFO_BASIC);
  return description;
}

}  // namespace grlm
