// The run store <run_dir>/grlm.h5: one HDF5 file written with parallel HDF5 (MPI-IO), one group
// per stage, a completion record per stage, chunk logs for resuming interrupted stages.
// Every member function is collective: all ranks call it, in the same order.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "grlm/core/comm.hpp"

namespace grlm {

class Runtime;
class StuckWriteWatch;

enum class StageState { Absent, InProgress, Complete };
std::string_view stage_state_name(StageState state);

struct StageStatus {
  StageState state = StageState::Absent;
  std::string stage_hash;  // hash stamped when the stage started (in progress) or completed
  nlohmann::json record;   // completion record (null unless complete)
};

class RunStore {
 public:
  static constexpr const char* kFileName = "grlm.h5";

  // Creates run_dir and the file when missing, else opens it for writing; a damaged file is
  // rebuilt from its complete stages (the original kept as grlm.h5.damaged-<time>).
  RunStore(Runtime& runtime, const std::filesystem::path& run_dir);
  // Any HDF5 file with the same collective API (e.g. a user's vectors, a standalone output).
  enum class FileMode { ReadOnly, Truncate, OpenOrCreate };
  RunStore(Runtime& runtime, const std::filesystem::path& file, FileMode mode);
  ~RunStore();
  RunStore(const RunStore&) = delete;
  RunStore& operator=(const RunStore&) = delete;

  // Drops the file handle without HDF5's collective close, for a rank that fails alone just before
  // the job is aborted: the close would wait in a collective for ranks that never come. What was
  // flushed stays, as after kill -9 (complete stages and checkpoints are flushed).
  void abandon() { file_ = -1; }

  const std::filesystem::path& run_dir() const { return run_dir_; }
  std::filesystem::path file_path() const { return file_path_; }
  int rank() const;
  int world_size() const;
  Communicator& comm();

  // --- stage lifecycle
  StageStatus stage_status(const std::string& stage);
  // Stamps the stage "in progress" with `stage_hash`. Its group and data are kept when it was
  // already in progress with the same hash and `resume` is set, else deleted and recreated empty.
  // Returns true when earlier partial work was kept.
  bool start_stage(const std::string& stage, const std::string& stage_hash, bool resume);
  // Flushes everything, then sets the completion record: only now is the stage complete.
  void complete_stage(const std::string& stage, const nlohmann::json& record);
  void delete_stage(const std::string& stage);

  // --- datasets; paths are absolute ("/embed/vectors"), row = first dimension
  bool exists(const std::string& path);
  // Removes a dataset or group when present (outputs that a resumed stage writes again whole).
  void remove_if_exists(const std::string& path);
  std::vector<uint64_t> dims(const std::string& path);
  void create_dataset(const std::string& path, const std::vector<uint64_t>& dims, DType dtype);
  // Each rank writes rows [first_row, first_row + num_rows) (num_rows may be 0) in one collective write.
  void write_rows(const std::string& path, uint64_t first_row, uint64_t num_rows, const void* data,
                  DType dtype);
  // Not collective: one rank writes rows of an existing dataset on its own (work-queue stages, where
  // ranks finish different numbers of items). The data reaches the file system when the call
  // returns; the next collective flush makes it durable against a machine crash.
  void write_rows_independent(const std::string& path, uint64_t first_row, uint64_t num_rows, const void* data,
                              DType dtype);
  // Each rank reads its own rows (they may overlap or be empty).
  void read_rows(const std::string& path, uint64_t first_row, uint64_t num_rows, void* data,
                 DType dtype);

  template <class T>
  void write_rows(const std::string& path, uint64_t first_row, uint64_t num_rows, const T* data) {
    write_rows(path, first_row, num_rows, data, dtype_of<T>());
  }
  template <class T>
  std::vector<T> read_all(const std::string& path) {
    const std::vector<uint64_t> shape = dims(path);
    uint64_t elements = 1;
    for (uint64_t dim : shape) elements *= dim;
    std::vector<T> values(elements);
    read_rows(path, 0, shape.empty() ? 1 : shape[0], values.data(), dtype_of<T>());
    return values;
  }

  // Variable-length UTF-8 strings. Each rank passes its part; the dataset holds the parts in rank
  // order (parallel HDF5 cannot write variable-length data, so rank 0 writes them).
  // With `columns` > 0 the dataset is a matrix of that many columns (the parts in row-major order).
  void write_strings(const std::string& path, const std::vector<std::string>& local_part, uint64_t columns = 0);
  std::vector<std::string> read_strings(const std::string& path);

  // A string attribute (same value on every rank) on a group or dataset, created when missing.
  void set_attribute(const std::string& object_path, const std::string& name, const std::string& value);
  void set_attributes(const std::string& object_path,
                      const std::vector<std::pair<std::string, std::string>>& names_and_values);
  std::string get_attribute(const std::string& object_path, const std::string& name);

  // Makes everything written so far durable on disk.
  void flush();

 private:
  void open_parallel();
  void close_parallel();
  // Closes the parallel file and runs `body` on rank 0 over a serial handle; an error in it is
  // raised on every rank.
  void serial_section(const std::function<void(int64_t file)>& body);
  // Rank 0 of serial_section; a stage group that can be neither deleted nor moved has the store
  // rebuilt without it, then `body` runs once more. Returns the problem, or empty.
  std::string run_serially(const std::function<void(int64_t file)>& body);
  // Opens the run store; one HDF5 cannot open for damage (a file cut short by a full disk) is
  // rebuilt from its complete stages first.
  void open_or_rebuild();
  // Runs a write; an error it raises is raised again naming the store file, and the full disk
  // when its filesystem has (nearly) no space left. A collective write that a full disk leaves
  // stuck (parallel HDF5 can deadlock when a write fails on some ranks only) ends the job.
  void writing(const std::function<void()>& write);

  Runtime& runtime_;
  std::filesystem::path run_dir_;
  std::filesystem::path file_path_;
  bool read_only_ = false;
  int64_t file_ = -1;  // hid_t of the parallel handle
  std::unique_ptr<StuckWriteWatch> stuck_write_watch_;
};

// Which chunks of a stage's work are durably in the store: the unit of resume. The log lives in
// /<stage>/_chunks_done (uint8, 1 = done) and is written only after the chunks' data is flushed.
class ChunkLog {
 public:
  ChunkLog(RunStore& store, const std::string& stage, uint64_t num_chunks);  // collective
  bool done(uint64_t chunk) const { return done_[chunk] != 0; }
  uint64_t num_chunks() const { return done_.size(); }
  uint64_t count_done() const;
  // Collective: flushes the store, then records the chunks every rank finished since the last commit.
  void commit(const std::vector<uint64_t>& local_chunks_done);
  // Independent I/O: this rank alone marks `chunk` done (its data written independently before).
  void mark_done_independent(uint64_t chunk);

 private:
  RunStore& store_;
  std::string path_;
  std::vector<uint8_t> done_;
};

// Reads a run store without MPI-IO (for `grlm inspect`): stages with status, hashes and record,
// and every dataset with its shape and type.
nlohmann::json describe_store(const std::filesystem::path& file);

// Serial, read-only: the config a run recorded (/run, attribute "config"; JSON), or empty.
std::string recorded_run_config(const std::filesystem::path& file);

// Serial, read-only: each complete stage's datasets checksummed again (XXH3-128 of their content)
// and compared with the checksums its completion record holds. Per stage: "verified" (true,
// false, or null when the record has none: stages completed before grlm kept them), "datasets",
// and "changed" (dataset, problem).
nlohmann::json verify_store(const std::filesystem::path& file);

}  // namespace grlm
