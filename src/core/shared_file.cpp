#include "grlm/core/shared_file.hpp"

#include <cerrno>
#include <cstring>
#include <mpi.h>

#include <algorithm>
#include <vector>

#include "grlm/core/error.hpp"

namespace grlm {
namespace {

constexpr size_t kCopyBlock = size_t{8} << 20;

void check_mpi(int status, const std::filesystem::path& file, const char* what) {
  if (status == MPI_SUCCESS) return;
  char message[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(status, message, &length);
  throw Error(cat("cannot ", what, " ", file.string(), ": ", std::string(message, static_cast<size_t>(length))));
}

// Copies the part file into `target` at `offset` (independent MPI-IO writes, so ranks with
// parts of different sizes need not write in step).
void copy_part(const std::filesystem::path& part, const std::filesystem::path& target, MPI_Offset offset) {
  std::ifstream in(part, std::ios::binary);
  if (!in) throw Error(cat("cannot read ", part.string()));
  MPI_File handle = MPI_FILE_NULL;
  check_mpi(MPI_File_open(MPI_COMM_SELF, target.c_str(), MPI_MODE_WRONLY, MPI_INFO_NULL, &handle), target, "open");
  std::vector<char> buffer(kCopyBlock);
  int status = MPI_SUCCESS;
  while (status == MPI_SUCCESS && in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    const auto count = static_cast<int>(in.gcount());
    if (count == 0) break;
    status = MPI_File_write_at(handle, offset, buffer.data(), count, MPI_BYTE, MPI_STATUS_IGNORE);
    offset += count;
  }
  const int closed = MPI_File_close(&handle);
  check_mpi(status, target, "write");
  check_mpi(closed, target, "close");
}

}  // namespace

RankOrderedFile::RankOrderedFile(Communicator& comm, std::filesystem::path file)
    : comm_(comm), file_(std::move(file)),
      part_path_(file_.string() + ".part-" + std::to_string(comm.rank())),
      part_(part_path_, std::ios::binary | std::ios::trunc) {
  if (!part_) throw Error(cat("cannot write ", part_path_.string(), ": ", std::strerror(errno)));
}

RankOrderedFile::~RankOrderedFile() {
  std::error_code ignored;
  part_.close();
  std::filesystem::remove(part_path_, ignored);
}

void RankOrderedFile::commit() {
  part_.close();
  if (!part_) throw Error(cat("error while writing ", part_path_.string(), ": ", std::strerror(errno)));
  const int ranks = comm_.size();
  const auto my_size = static_cast<int64_t>(std::filesystem::file_size(part_path_));
  std::vector<int64_t> sizes(static_cast<size_t>(ranks));
  comm_.all_gather(&my_size, sizes.data(), 1, DType::Int64);
  int64_t offset = 0;
  for (int r = 0; r < comm_.rank(); ++r) offset += sizes[static_cast<size_t>(r)];
  const std::filesystem::path partial = file_.string() + ".partial";
  if (comm_.rank() == 0) {
    std::ofstream created(partial, std::ios::binary | std::ios::trunc);
    if (!created) throw Error(cat("cannot write ", partial.string()));
  }
  comm_.barrier();
  copy_part(part_path_, partial, static_cast<MPI_Offset>(offset));
  std::filesystem::remove(part_path_);
  comm_.barrier();
  if (comm_.rank() == 0) std::filesystem::rename(partial, file_);
  comm_.barrier();
}

}  // namespace grlm
