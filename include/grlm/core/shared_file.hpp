// One output file written by all ranks together, each contributing a consecutive part in rank
// order (JSON lists and text files too large for one rank to hold or write alone).
#pragma once

#include <filesystem>
#include <fstream>

#include "grlm/core/comm.hpp"

namespace grlm {

// Collective. Each rank streams its part into a private file (`part()`), then `commit()` writes
// the parts at their offsets (an exclusive scan of the part sizes) into `file`.partial with
// MPI-IO and renames it to `file`: the file appears whole or not at all. The part files live
// beside `file` (a shared filesystem on clusters) and are removed.
class RankOrderedFile {
 public:
  RankOrderedFile(Communicator& comm, std::filesystem::path file);
  ~RankOrderedFile();
  RankOrderedFile(const RankOrderedFile&) = delete;
  RankOrderedFile& operator=(const RankOrderedFile&) = delete;

  std::ofstream& part() { return part_; }
  // Collective: every rank calls it once; throws Error naming the file when a write fails.
  void commit();

 private:
  Communicator& comm_;
  std::filesystem::path file_;
  std::filesystem::path part_path_;
  std::ofstream part_;
};

}  // namespace grlm
